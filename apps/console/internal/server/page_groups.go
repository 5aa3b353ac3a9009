package server

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

func (s *Server) insightPageRoutes() []route {
	pg := func(method, path string, p perm, h func(http.ResponseWriter, *http.Request, *principal)) route {
		return route{method: method, path: path, perm: p, page: true, h: h}
	}
	return []route{
		pg("GET", "/analytics", permRead, s.pageAnalytics),
		pg("GET", "/alerts/{id}", permRead, s.pageAlert),
		pg("GET", "/groups", permRead, s.pageGroups),
		pg("POST", "/groups", permAdmin, s.pageGroupPost),
		pg("POST", "/groups/{name}/members", permAdmin, s.pageMemberAdd),
		pg("POST", "/groups/{name}/members/{id}/remove", permAdmin, s.pageMemberRemove),
		pg("POST", "/users/role", permAdmin, s.pageUserRole),
		pg("POST", "/users/{id}/role", permAdmin, s.pageUserRole),
		pg("GET", "/attachments", permRead, s.pageAttachments),
	}
}

func (s *Server) pageAnalytics(w http.ResponseWriter, r *http.Request, p *principal) {
	an, err := s.dom.Analytics(r.Context(), s.domainActor(r, p))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	hits := an.Hits
	a := ui.Analytics{Page: s.pageOf(r, p, "Analytics", "analytics")}
	for _, u := range an.Risks {
		row := ui.RiskRow{Subject: u.DisplayName(), SubjectID: u.Subject, Score: u.Score, Signals: strings.Join(u.Signals, ", "), Alerts: u.Alerts, Open: u.OpenAlerts,
			Allowed: u.Allowed, Denied: u.Denied, LastAlert: when(u.LastAlert), Href: "/alerts?q=" + url.QueryEscape(u.Subject)}
		if u.LastAlert.IsZero() {
			row.LastAlert = "none"
		}
		row.From = "console"
		if u.ScoreFrom == "gateway" {
			row.From = "gateway " + u.Gateway
		}
		a.Risks = append(a.Risks, row)
	}
	a.RiskChart = ui.RiskChart(a.Risks, 10)
	bars := make([]ui.HourBar, len(hits.Hours))
	for i, h := range hits.Hours {
		bars[i] = ui.HourBar{Hour: h.Hour, Hits: h.Hits}
		if len(h.Hits) > 0 {
			var parts []string
			for _, d := range hits.Detectors {
				if n := h.Hits[d]; n > 0 {
					parts = append(parts, d+" "+strconv.Itoa(n))
				}
			}
			a.Hours = append(a.Hours, ui.Row{Cells: []string{h.Hour.Format("2006-01-02 15:04"), strings.Join(parts, ", ")}})
		}
	}
	a.HitsChart = ui.DetectorChart(bars, hits.Detectors)
	for _, d := range hits.Detectors {
		a.Detectors = append(a.Detectors, ui.Count{Label: d, N: hits.Totals[d]})
	}
	s.render(w, r, http.StatusOK, ui.AnalyticsPage(a))
}

// roleCan says in words what each role may do; the route table is the
// authority, this is its summary for people.
var roleCan = map[domain.Role]string{
	domain.RoleAdmin:        "everything, including users, roles, groups and API keys",
	domain.RoleOperator:     "manage gateways, devices and resources; acknowledge alerts",
	domain.RolePolicyEditor: "write, test, simulate and roll back policies",
	domain.RoleAuditor:      "read everything, including the audit log",
	domain.RoleViewer:       "read pages other than the audit log",
}

func (s *Server) pageGroups(w http.ResponseWriter, r *http.Request, p *principal) {
	ds, err := s.dom.GroupDetails(r.Context(), s.domainActor(r, p))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	g := ui.Groups{Page: s.pageOf(r, p, "Groups and roles", "groups"), Admin: allowed(permAdmin, p.role)}
	for _, d := range ds {
		v := ui.GroupView{Name: d.Name, Description: d.Description, Defined: d.Defined}
		for _, m := range d.Members {
			v.Members = append(v.Members, ui.Member{ID: m.ID, Email: m.Email, Name: m.Name, Role: string(m.Role)})
		}
		g.Groups = append(g.Groups, v)
	}
	holders, err := s.dom.RoleHolders(r.Context(), s.domainActor(r, p))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	for _, role := range domain.Roles {
		var names []string
		for _, u := range holders[role] {
			name := u.Email
			if u.Disabled {
				name += " (disabled)"
			}
			names = append(names, name)
		}
		g.Roles = append(g.Roles, ui.RoleView{Name: string(role), Can: roleCan[role], Users: names})
		g.RoleNames = append(g.RoleNames, string(role))
	}
	s.render(w, r, http.StatusOK, ui.GroupsPage(g))
}

func (s *Server) pageGroupPost(w http.ResponseWriter, r *http.Request, p *principal) {
	g, err := s.dom.PutGroup(r.Context(), s.domainActor(r, p), domain.Group{Name: strings.TrimSpace(r.PostFormValue("name")), Description: strings.TrimSpace(r.PostFormValue("description"))})
	if inv, ok := errors.AsType[*domain.InvalidError](err); ok && inv.Field == "name" {
		s.redirect(w, r, "/groups", flashError, inv.Message)
		return
	}
	if err != nil {
		s.redirect(w, r, "/groups", flashError, "not saved: "+s.problemMessage(err))
		return
	}
	s.changed()
	s.redirect(w, r, "/groups", flashInfo, "Created group "+g.Name+".")
}

func (s *Server) pageMemberAdd(w http.ResponseWriter, r *http.Request, p *principal) {
	group := r.PathValue("name")
	u, err := s.dom.SetMember(r.Context(), s.domainActor(r, p), group, strings.TrimSpace(r.PostFormValue("user")), true)
	if err != nil {
		s.redirect(w, r, "/groups", flashError, "not added: "+s.problemMessage(err))
		return
	}
	s.changed()
	s.redirect(w, r, "/groups", flashInfo, "Added "+u.Email+" to "+group+".")
}

func (s *Server) pageMemberRemove(w http.ResponseWriter, r *http.Request, p *principal) {
	group := r.PathValue("name")
	u, err := s.dom.SetMember(r.Context(), s.domainActor(r, p), group, r.PathValue("id"), false)
	if err != nil {
		s.redirect(w, r, "/groups", flashError, "not removed: "+s.problemMessage(err))
		return
	}
	s.changed()
	s.redirect(w, r, "/groups", flashInfo, "Removed "+u.Email+" from "+group+".")
}

// pageUserRole changes a user's console role. It refuses to demote the
// last enabled admin, which would lock everyone out of administration.
func (s *Server) pageUserRole(w http.ResponseWriter, r *http.Request, p *principal) {
	who, back := strings.TrimSpace(r.PostFormValue("user")), "/groups"
	if id := r.PathValue("id"); id != "" {
		who, back = id, "/users"
	}
	u, err := s.dom.ChangeRole(r.Context(), s.domainActor(r, p), who, domain.Role(r.PostFormValue("role")))
	var invalid *domain.InvalidError
	var conflict *domain.ConflictError
	switch {
	case errors.As(err, &invalid):
		s.redirect(w, r, back, flashError, invalid.Message)
		return
	case errors.Is(err, domain.ErrNotFound):
		s.redirect(w, r, back, flashError, "no user "+who)
		return
	case errors.As(err, &conflict):
		s.redirect(w, r, back, flashError, conflict.Message)
		return
	case err != nil:
		s.redirect(w, r, back, flashError, "not changed: "+s.problemMessage(err))
		return
	}
	s.changed()
	s.redirect(w, r, back, flashInfo, "Changed "+u.Email+" to "+string(u.Role)+".")
}

func (s *Server) pageAttachments(w http.ResponseWriter, r *http.Request, p *principal) {
	ds, err := s.dom.DeviceResources(r.Context(), s.domainActor(r, p))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	a := ui.Attachments{Page: s.pageOf(r, p, "USB and serial devices", "attachments")}
	var ids []string
	for _, d := range ds {
		for _, x := range d.Attachments {
			ids = append(ids, x.Subject, x.Device)
		}
	}
	n := s.dom.DisplayNames(r.Context(), s.domainActor(r, p), ids)
	for _, d := range ds {
		v := ui.DeviceView{Name: d.Resource.Name, Kind: d.Resource.Kind, Address: d.Resource.Address, Gateway: d.Resource.Gateway, LastUse: when(d.LastUse)}
		if v.Address == "" {
			v.Address = "—"
		}
		for _, x := range d.Attachments {
			name := x.GatewayName
			if name == "" {
				name = x.Gateway
			}
			v.Attached = append(v.Attached, ui.AttachView{Subject: n.Of(x.Subject), SubjectID: n.Title(x.Subject), Device: n.Of(x.Device), DeviceID: n.Title(x.Device), Gateway: name, Since: when(x.Since), Detail: x.Detail, Stale: x.Stale})
		}
		a.Devices = append(a.Devices, v)
	}
	s.render(w, r, http.StatusOK, ui.AttachmentsPage(a))
}

package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
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
	ds, err := s.groupDetails(r.Context())
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
	holders := map[domain.Role][]string{}
	if err := eachPage(func(after string) (string, int, error) {
		us, err := s.st.ListUsers(r.Context(), store.ListOptions{After: after, Limit: 1000})
		for _, u := range us {
			name := u.Email
			if u.Disabled {
				name += " (disabled)"
			}
			holders[u.Role] = append(holders[u.Role], name)
		}
		return lastKey(len(us), func() string { return us[len(us)-1].ID }), len(us), err
	}); err != nil {
		s.pageError(w, r, err)
		return
	}
	for _, role := range domain.Roles {
		g.Roles = append(g.Roles, ui.RoleView{Name: string(role), Can: roleCan[role], Users: holders[role]})
		g.RoleNames = append(g.RoleNames, string(role))
	}
	s.render(w, r, http.StatusOK, ui.GroupsPage(g))
}

func (s *Server) pageGroupPost(w http.ResponseWriter, r *http.Request, p *principal) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if !validGroupName(name) {
		s.redirect(w, r, "/groups", flashError, "a group name is letters, digits, dot, dash and underscore")
		return
	}
	g := store.Group{Name: name, Description: strings.TrimSpace(r.PostFormValue("description"))}
	if fe := validDescription("description", g.Description); fe != nil {
		s.redirect(w, r, "/groups", flashError, "not saved: "+fe.Error())
		return
	}
	if err := s.st.PutGroup(r.Context(), g); err != nil {
		s.redirect(w, r, "/groups", flashError, "not saved: "+s.storeMessage(err))
		return
	}
	s.audit(r.Context(), p.actor(), "group.put", g.Name, "", nil)
	s.changed()
	s.redirect(w, r, "/groups", flashInfo, "Created group "+g.Name+".")
}

func validGroupName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func (s *Server) pageMemberAdd(w http.ResponseWriter, r *http.Request, p *principal) {
	group := r.PathValue("name")
	u, err := s.setMember(r.Context(), group, strings.TrimSpace(r.PostFormValue("user")), true, p)
	if err != nil {
		s.redirect(w, r, "/groups", flashError, "not added: "+s.storeMessage(err))
		return
	}
	s.redirect(w, r, "/groups", flashInfo, "Added "+u.Email+" to "+group+".")
}

func (s *Server) pageMemberRemove(w http.ResponseWriter, r *http.Request, p *principal) {
	group := r.PathValue("name")
	u, err := s.setMember(r.Context(), group, r.PathValue("id"), false, p)
	if err != nil {
		s.redirect(w, r, "/groups", flashError, "not removed: "+s.storeMessage(err))
		return
	}
	s.redirect(w, r, "/groups", flashInfo, "Removed "+u.Email+" from "+group+".")
}

// pageUserRole changes a user's console role. It refuses to demote the
// last enabled admin, which would lock everyone out of administration.
func (s *Server) pageUserRole(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx := r.Context()
	who, back := strings.TrimSpace(r.PostFormValue("user")), "/groups"
	if id := r.PathValue("id"); id != "" {
		who, back = id, "/users"
	}
	role := domain.Role(r.PostFormValue("role"))
	if !role.Valid() {
		s.redirect(w, r, back, flashError, "unknown role")
		return
	}
	u, err := s.st.User(ctx, who)
	if err != nil {
		if u, err = s.st.UserByEmail(ctx, who); err != nil {
			s.redirect(w, r, back, flashError, "no user "+who)
			return
		}
	}
	if u.Role == domain.RoleAdmin && role != domain.RoleAdmin && !u.Disabled {
		admins := 0
		eachPage(func(after string) (string, int, error) {
			us, err := s.st.ListUsers(ctx, store.ListOptions{After: after, Limit: 1000})
			for _, x := range us {
				if x.Role == domain.RoleAdmin && !x.Disabled {
					admins++
				}
			}
			return lastKey(len(us), func() string { return us[len(us)-1].ID }), len(us), err
		})
		if admins <= 1 {
			s.redirect(w, r, back, flashError, u.Email+" is the last admin; make someone else admin first")
			return
		}
	}
	old := u.Role
	if u, err = s.updateUser(ctx, u.ID, func(u *store.User) (bool, error) {
		u.Role = role
		return true, nil
	}); err != nil {
		s.redirect(w, r, back, flashError, "not changed: "+s.storeMessage(err))
		return
	}
	// Every request reads the user's role afresh, so open sessions follow
	// the change at once and need not end.
	s.audit(ctx, p.actor(), "user.role", u.Email, "", map[string]string{"from": string(old), "to": string(role)})
	s.changed()
	s.redirect(w, r, back, flashInfo, "Changed "+u.Email+" to "+string(role)+".")
}

func (s *Server) pageAttachments(w http.ResponseWriter, r *http.Request, p *principal) {
	ds, err := s.deviceResources(r.Context())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	gs, err := s.st.ListGateways(r.Context())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	now := s.now()
	type gwInfo struct {
		name  string
		alive bool
	}
	gws := map[string]gwInfo{}
	for _, g := range gs {
		gws[g.ID] = gwInfo{g.Name, !g.Revoked && now.Sub(g.LastSeen) < 2*time.Minute}
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
			g, known := gws[x.Gateway]
			name := g.name
			if !known {
				name = x.Gateway
			}
			v.Attached = append(v.Attached, ui.AttachView{Subject: n.Of(x.Subject), SubjectID: n.Title(x.Subject), Device: n.Of(x.Device), DeviceID: n.Title(x.Device), Gateway: name, Since: when(x.Since), Detail: x.Detail, Stale: !g.alive})
		}
		a.Devices = append(a.Devices, v)
	}
	s.render(w, r, http.StatusOK, ui.AttachmentsPage(a))
}

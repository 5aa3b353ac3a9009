package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

// The platform page, /platform: the tenants with their usage against
// their quotas, for the platform's administrators to create, suspend,
// resume, delete and export, and to begin support access where a
// tenant granted it. The support page, /settings/support, is where a
// tenant's admins grant and end that access (see auth_support.go).

func (s *Server) pagePlatformRoutes() []route {
	return []route{
		pageRoute("GET", "/platform", permPlatform, s.pagePlatform),
		sensitive(pageRoute("POST", "/platform", permPlatform, s.pagePlatformCreate)),
		sensitive(pageRoute("POST", "/platform/{id}/suspend", permPlatform, s.pagePlatformSuspend(true))),
		sensitive(pageRoute("POST", "/platform/{id}/resume", permPlatform, s.pagePlatformSuspend(false))),
		sensitive(pageRoute("POST", "/platform/{id}/delete", permPlatform, s.pagePlatformDelete)),
		pageRoute("POST", "/platform/{id}/support", permPlatform, s.pagePlatformSupport),
		pageRoute("POST", "/platform/support/end", permPlatform, s.pagePlatformSupportEnd),
		pageRoute("GET", "/settings/support", permAdmin, s.pageSupport),
		sensitive(pageRoute("POST", "/settings/support", permAdmin, s.pageSupportGrant)),
		sensitive(pageRoute("POST", "/settings/support/grant/revoke", permAdmin, s.pageSupportRevoke)),
	}
}

func (s *Server) pagePlatform(w http.ResponseWriter, r *http.Request, p *principal) {
	ts, err := s.plat.ListTenants(r.Context(), p.domainActor())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	l := ui.List{Page: s.pageOf(r, p, "Platform", "platform"), Heading: "Organisations on this console",
		Table: ui.Table{Head: []string{"ID", "Name", "State", "Users", "Devices", "Gateways", "Policies", "Events today", "Support access"}}}
	l.Form = []ui.Field{
		{Name: "id", Label: "ID (2 to 30 lower-case letters and digits; users sign in with it)", Required: true},
		{Name: "name", Label: "Name", Required: true},
		{Name: "devices", Label: "Devices quota (empty: none)", Type: "number"},
		{Name: "gateways", Label: "Gateways quota (empty: none)", Type: "number"},
		{Name: "policies", Label: "Policies quota (empty: none)", Type: "number"},
		{Name: "events", Label: "Events per day quota (empty: none)", Type: "number"},
	}
	l.Action, l.Submit, l.RowActions = "/platform", "Create organisation", []string{"suspend"}
	now := s.now()
	for _, t := range ts {
		row := ui.Row{ID: t.ID, Href: "/api/v1/tenants/" + t.ID + "/export", Titles: []string{"export " + t.ID + "'s configuration as JSON"}}
		state := "active"
		switch {
		case t.ID == p.tenant:
			state, row.Actions = "the platform's own", []string{}
		case t.Suspended:
			state, row.Tone, row.Actions = "suspended", "muted", []string{"resume", "delete"}
		default:
			row.Actions = []string{"suspend"}
		}
		support := "—"
		if t.Support.Active(now) {
			support = fmt.Sprintf("%s until %s", t.Support.Role, t.Support.Until.Format(time.DateTime))
			if !t.Suspended {
				row.Actions = append(row.Actions, "support")
			}
		}
		row.Cells = []string{t.ID, t.Name, state, strconv.FormatInt(t.Usage.Users, 10),
			ofQuota(t.Usage.Devices, t.Quotas.Devices), ofQuota(t.Usage.Gateways, t.Quotas.Gateways),
			ofQuota(t.Usage.Policies, t.Quotas.Policies), ofQuota(t.Usage.EventsToday, t.Quotas.EventsPerDay), support}
		l.Table.Rows = append(l.Table.Rows, row)
	}
	s.render(w, r, http.StatusOK, ui.ListPage(l))
}

// ofQuota is a count with its quota, "3 of 10", or the count alone.
func ofQuota(n int64, quota int) string {
	if quota <= 0 {
		return strconv.FormatInt(n, 10)
	}
	return fmt.Sprintf("%d of %d", n, quota)
}

func (s *Server) pagePlatformCreate(w http.ResponseWriter, r *http.Request, p *principal) {
	var q domain.Quotas
	for _, f := range []struct {
		name string
		to   *int
	}{{"devices", &q.Devices}, {"gateways", &q.Gateways}, {"policies", &q.Policies}, {"events", &q.EventsPerDay}} {
		v := strings.TrimSpace(r.PostFormValue(f.name))
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.redirect(w, r, "/platform", flashError, "not created: "+f.name+" quota: "+strconv.Quote(v)+" is not a whole number of 0 or more")
			return
		}
		*f.to = n
	}
	t, err := s.plat.CreateTenant(r.Context(), p.domainActor(), domain.NewTenant{ID: r.PostFormValue("id"), Name: r.PostFormValue("name"), Quotas: q})
	if err != nil {
		s.redirect(w, r, "/platform", flashError, "not created: "+s.problemMessage(err))
		return
	}
	s.redirect(w, r, "/platform", flashInfo, "Organisation "+t.ID+" created; add its first admin with its support access or through the API.")
}

func (s *Server) pagePlatformSuspend(suspend bool) func(http.ResponseWriter, *http.Request, *principal) {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		id := r.PathValue("id")
		if _, err := s.plat.UpdateTenant(r.Context(), p.domainActor(), id, domain.TenantChange{Suspended: &suspend}); err != nil {
			s.redirect(w, r, "/platform", flashError, id+": "+s.problemMessage(err))
			return
		}
		s.changed(id)
		msg := id + " resumed."
		if suspend {
			msg = id + " suspended: its users and gateways are refused until it is resumed."
		}
		s.redirect(w, r, "/platform", flashInfo, msg)
	}
}

func (s *Server) pagePlatformDelete(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	if err := s.plat.DeleteTenant(r.Context(), p.domainActor(), id); err != nil {
		s.redirect(w, r, "/platform", flashError, id+" not deleted: "+s.problemMessage(err))
		return
	}
	s.redirect(w, r, "/platform", flashInfo, id+" deleted with everything it held.")
}

// pagePlatformSupport begins reading a tenant under its grant: the
// support cookie makes the pages that tenant's, until it is ended or
// the grant is.
func (s *Server) pagePlatformSupport(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	if _, _, err := s.plat.SupportAccess(r.Context(), p.domainActor(), id); err != nil {
		s.redirect(w, r, "/platform", flashError, "support access to "+id+": "+supportRefusal(err))
		return
	}
	s.setCookie(w, supportCookie, id, int(domain.MaxSupportGrant/time.Second))
	s.redirect(w, r, "/", flashInfo, "Reading "+id+" with its support access; every change is refused.")
}

func (s *Server) pagePlatformSupportEnd(w http.ResponseWriter, r *http.Request, p *principal) {
	s.setCookie(w, supportCookie, "", -1)
	s.redirect(w, r, "/platform", flashInfo, "Support access ended.")
}

func (s *Server) pageSupport(w http.ResponseWriter, r *http.Request, p *principal) {
	g, err := s.plat.SupportGrant(r.Context(), p.domainActor())
	if ce, ok := errors.AsType[*domain.ConflictError](err); ok && ce.Code == "platform_tenant" {
		s.redirect(w, r, "/platform", flashInfo, ce.Message)
		return
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	l := ui.List{Page: s.pageOf(r, p, "Support access", "users"), Heading: "Support access for the platform's administrators",
		Table: ui.Table{Head: []string{"Role", "Until", "Granted by"}}}
	if sg := supportGrantOf(g, s.now()); sg != nil {
		l.Table.Rows = []ui.Row{{ID: "grant", Cells: []string{string(sg.Role), sg.Until.Format(time.DateTime) + " UTC", sg.GrantedBy}}}
		l.Links = []ui.Link{{Label: "Audit log of support access", URL: "/audit?action=support.access"}}
	}
	roles := roleNames(domain.SupportRoles)
	l.Form = []ui.Field{
		{Name: "role", Label: "Role (what they may read; support access never changes anything)", Options: roles, Value: string(domain.RoleAuditor)},
		{Name: "duration", Label: "For how long (15m to 168h)", Value: "4h", Required: true},
	}
	l.Action, l.Submit = "/settings/support", "Grant support access"
	if len(l.Table.Rows) > 0 {
		l.Action, l.RowActions = "/settings/support", []string{"revoke"}
	}
	s.render(w, r, http.StatusOK, ui.ListPage(l))
}

func (s *Server) pageSupportGrant(w http.ResponseWriter, r *http.Request, p *principal) {
	d, err := time.ParseDuration(strings.TrimSpace(r.PostFormValue("duration")))
	if err != nil {
		s.redirect(w, r, "/settings/support", flashError, "not granted: "+strconv.Quote(r.PostFormValue("duration"))+" is not a duration such as 4h")
		return
	}
	g, err := s.plat.GrantSupport(r.Context(), p.domainActor(), domain.Role(r.PostFormValue("role")), d)
	if err != nil {
		s.redirect(w, r, "/settings/support", flashError, "not granted: "+s.problemMessage(err))
		return
	}
	s.redirect(w, r, "/settings/support", flashInfo, "The platform's administrators may read this organisation as "+g.Role+" until "+g.Until.Format(time.DateTime)+" UTC.")
}

func (s *Server) pageSupportRevoke(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := s.plat.RevokeSupport(r.Context(), p.domainActor()); err != nil {
		s.redirect(w, r, "/settings/support", flashError, "not ended: "+s.problemMessage(err))
		return
	}
	s.redirect(w, r, "/settings/support", flashInfo, "Support access ended.")
}

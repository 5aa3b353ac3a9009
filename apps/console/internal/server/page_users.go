package server

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

func (s *Server) pageUserRoutes() []route {
	return []route{
		pageRoute("GET", "/users", permRead, s.pageUsers),
		sensitive(pageRoute("POST", "/users", permAdmin, s.pageUserPost)),
		pageRoute("POST", "/users/{id}/disable", permAdmin, s.pageUserToggle(true)),
		pageRoute("POST", "/users/{id}/enable", permAdmin, s.pageUserToggle(false)),
		sensitive(pageRoute("POST", "/users/role", permAdmin, s.pageUserRole)),
		sensitive(pageRoute("POST", "/users/{id}/role", permAdmin, s.pageUserRole)),
	}
}

func (s *Server) pageUsers(w http.ResponseWriter, r *http.Request, p *principal) {
	o := listOpts(r)
	us, err := p.dom.ListUsers(r.Context(), p.domainActor(), o)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	l := ui.List{Page: s.pageOf(r, p, "Users", "users"), Heading: "Users", Query: o.Query,
		Table: ui.Table{Head: []string{"ID", "Email", "Name", "Role", "Groups", "MFA", "State"}}}
	roles := roleNames(domain.Roles)
	if allowed(permAdmin, p.role) {
		l.Form = []ui.Field{{Name: "email", Label: "Email", Type: "email", Required: true}, {Name: "name", Label: "Name"},
			{Name: "role", Label: "Role", Options: roles, Value: "viewer"}, {Name: "groups", Label: "Groups (comma separated)"},
			{Name: "password", Label: "Initial password (12+ characters)", Type: "password", Required: true}}
		l.Action, l.Submit, l.RowActions = "/users", "Add user", []string{"disable", "enable"}
	}
	l.Links = []ui.Link{{Label: "Groups and roles", URL: "/groups"}}
	if allowed(permAdmin, p.role) {
		l.Links = append(l.Links, ui.Link{Label: "Settings and security policies", URL: "/settings"})
	}
	if allowed(permAdmin, p.role) {
		l.Choice = &ui.Choice{Name: "role", Label: "Change role", Options: roles, Values: map[string]string{}}
		for _, u := range us {
			l.Choice.Values[u.ID] = string(u.Role)
		}
	}
	for _, u := range us {
		state, tone := "active", ""
		if u.Disabled {
			state, tone = "disabled", "muted"
		}
		mfa := "off"
		if u.TOTPEnabled {
			mfa = "TOTP"
		}
		l.Table.Rows = append(l.Table.Rows, ui.Row{ID: u.ID, Tone: tone, Href: "/devices?owner=" + url.QueryEscape(u.ID), Cells: []string{u.ID, u.Email, u.Name, string(u.Role), strings.Join(u.Groups, ", "), mfa, state}})
	}
	if len(us) == clampLimit(o.Limit) {
		l.Next = nextURL("/users", us[len(us)-1].ID, o)
	}
	s.render(w, r, http.StatusOK, ui.ListPage(l))
}

func (s *Server) pageUserPost(w http.ResponseWriter, r *http.Request, p *principal) {
	var groups []string
	for _, g := range strings.Split(r.PostFormValue("groups"), ",") {
		if g = strings.TrimSpace(g); g != "" {
			groups = append(groups, g)
		}
	}
	u, err := p.dom.CreateUser(r.Context(), p.domainActor(), domain.NewUser{
		Email: strings.TrimSpace(r.PostFormValue("email")), Name: strings.TrimSpace(r.PostFormValue("name")),
		Role: domain.Role(r.PostFormValue("role")), Groups: groups, Password: r.PostFormValue("password")})
	if err != nil {
		s.redirect(w, r, "/users", flashError, "not added: "+s.problemMessage(err))
		return
	}
	s.changed(p.tenant)
	s.redirect(w, r, "/users", flashInfo, "Added "+u.Email+".")
}

func (s *Server) pageUserToggle(disable bool) func(http.ResponseWriter, *http.Request, *principal) {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		u, err := p.dom.UpdateUser(r.Context(), p.domainActor(), r.PathValue("id"), domain.UserPatch{Disabled: &disable})
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		s.changed(p.tenant)
		s.redirect(w, r, "/users", flashInfo, "Updated "+u.Email+".")
	}
}

// pageUserRole changes a user's console role. It refuses to demote the
// last enabled admin, which would lock everyone out of administration.
func (s *Server) pageUserRole(w http.ResponseWriter, r *http.Request, p *principal) {
	who, back := strings.TrimSpace(r.PostFormValue("user")), "/groups"
	if id := r.PathValue("id"); id != "" {
		who, back = id, "/users"
	}
	u, err := p.dom.ChangeRole(r.Context(), p.domainActor(), who, domain.Role(r.PostFormValue("role")))
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
	s.changed(p.tenant)
	s.redirect(w, r, back, flashInfo, "Changed "+u.Email+" to "+string(u.Role)+".")
}

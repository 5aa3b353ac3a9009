package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

// The API keys page: an admin lists, creates and revokes their own keys,
// with the same operation as /api/v1/apikeys (a key's role is one its
// owner holds, its lifetime 1 to domain.MaxAPIKeyDays days). The secret
// is shown once.

func (s *Server) pageAPIKeyRoutes() []route {
	return []route{
		pageRoute("GET", "/apikeys", permAdmin, s.pageAPIKeys),
		sensitive(pageRoute("POST", "/apikeys", permAdmin, s.pageAPIKeyPost)),
		sensitive(pageRoute("POST", "/apikeys/{id}/revoke", permAdmin, s.pageAPIKeyRevoke)),
	}
}

func (s *Server) pageAPIKeys(w http.ResponseWriter, r *http.Request, p *principal) {
	s.renderAPIKeys(w, r, p, nil)
}

func (s *Server) renderAPIKeys(w http.ResponseWriter, r *http.Request, p *principal, res *ui.Result) {
	ks, err := p.dom.OwnAPIKeys(r.Context(), p.domainActor())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	roles := roleNames(domain.Roles)
	l := ui.List{Page: s.pageOf(r, p, "API keys", ""), Heading: "Your API keys", Result: res,
		Table: ui.Table{Head: []string{"ID", "Name", "Role", "Scope", "Created", "Expires", "Last used", "State"}},
		Form: []ui.Field{
			{Name: "name", Label: "Key name (what uses it)", Required: true},
			{Name: "role", Label: "Role (at most your own)", Options: roles, Value: string(domain.RoleViewer)},
			{Name: "scope", Label: "Scope (empty: the whole role; read, a collection such as devices, or read:devices)"},
			{Name: "expires_in_days", Label: "Expires after (days, 1 to " + strconv.Itoa(domain.MaxAPIKeyDays) + ")", Value: strconv.Itoa(domain.DefaultAPIKeyDays), Required: true},
		},
		Action: "/apikeys", Submit: "Create API key", RowActions: []string{"revoke"}}
	now := s.now()
	for _, k := range ks {
		state, tone := "active", ""
		switch {
		case k.Revoked:
			state, tone = "revoked", "muted"
		case !k.Expires.IsZero() && now.After(k.Expires):
			state, tone = "expired", "muted"
		case k.ExpiresSoon(now):
			state, tone = "expires this week", "deny"
		}
		l.Table.Rows = append(l.Table.Rows, ui.Row{ID: k.ID, Tone: tone, Cells: []string{k.ID, k.Name, string(k.Role), orDash(k.Scope.String()), when(k.Created), when(k.Expires), when(k.LastUsed), state}})
	}
	s.render(w, r, http.StatusOK, ui.ListPage(l))
}

func (s *Server) pageAPIKeyPost(w http.ResponseWriter, r *http.Request, p *principal) {
	days, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("expires_in_days")))
	if err != nil {
		s.redirect(w, r, "/apikeys", flashError, "not created: the lifetime must be a whole number of days, 1 to "+strconv.Itoa(domain.MaxAPIKeyDays))
		return
	}
	if days == 0 {
		days = -1 // the form asks for a lifetime; 0 is not "the default" here
	}
	in := domain.NewAPIKey{Name: strings.TrimSpace(r.PostFormValue("name")), Role: domain.Role(r.PostFormValue("role")), ExpiresInDays: days, Scope: r.PostFormValue("scope")}
	k, secret, err := p.dom.CreateAPIKey(r.Context(), p.domainActor(), in)
	if err != nil {
		s.redirect(w, r, "/apikeys", flashError, "not created: "+s.problemMessage(err))
		return
	}
	s.renderAPIKeys(w, r, p, &ui.Result{
		Title: "API key " + k.Name + " (" + string(k.Role) + ", expires " + when(k.Expires) + "): copy it now, it is shown once",
		Text:  secret,
		Lines: []string{"Send it as: Authorization: Bearer " + secret},
	})
}

func (s *Server) pageAPIKeyRevoke(w http.ResponseWriter, r *http.Request, p *principal) {
	k, err := p.dom.RevokeOwnAPIKey(r.Context(), p.domainActor(), r.PathValue("id"))
	switch {
	case errors.Is(err, domain.ErrNotFound):
		s.redirect(w, r, "/apikeys", flashError, "not revoked: no such key of yours")
	case err != nil:
		s.redirect(w, r, "/apikeys", flashError, "not revoked: the console could not store the change; try again")
	default:
		s.redirect(w, r, "/apikeys", flashInfo, "API key "+k.Name+" revoked.")
	}
}

package server

import (
	"net/http"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

// The identity providers page: an organisation's admins list, add and
// remove the OpenID Connect providers its people sign in with, with the
// operations of /api/v1/identity-providers. The client secret is asked
// for and never shown.

func (s *Server) pageIdentityProviderRoutes() []route {
	return []route{
		pageRoute("GET", "/identity-providers", permAdmin, s.pageIdentityProviders),
		sensitive(pageRoute("POST", "/identity-providers", permAdmin, s.pageIdentityProviderPost)),
		sensitive(pageRoute("POST", "/identity-providers/{id}/remove", permAdmin, s.pageIdentityProviderRemove)),
	}
}

func (s *Server) pageIdentityProviders(w http.ResponseWriter, r *http.Request, p *principal) {
	ps, err := p.dom.IdentityProviders(r.Context(), p.domainActor())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	roles := roleNames(domain.Roles)
	l := ui.List{Page: s.pageOf(r, p, "Identity providers", ""), Heading: "Single sign-on (OpenID Connect)",
		Table: ui.Table{Head: []string{"ID", "Name", "Issuer", "Client ID", "Scopes", "Emails", "Provisioning"}},
		Form: []ui.Field{
			{Name: "name", Label: "Name (what the sign-in button says)", Required: true},
			{Name: "issuer", Label: "Issuer URL (https://…)", Required: true},
			{Name: "client_id", Label: "Client ID", Required: true},
			{Name: "client_secret", Label: "Client secret (stored sealed, never shown)"},
			{Name: "scopes", Label: "Scopes", Value: strings.Join(domain.DefaultOIDCScopes, " ")},
			{Name: "trust_email", Label: "Emails", Options: []string{"verified only", "trust unverified"}, Value: "verified only"},
			{Name: "provisioning", Label: "Unknown emails", Options: []string{domain.ProvisionInvite, domain.ProvisionJIT}, Value: domain.ProvisionInvite},
			{Name: "default_role", Label: "Role of users made on first sign-in (jit)", Options: roles, Value: string(domain.RoleViewer)},
		},
		Action: "/identity-providers", Submit: "Add identity provider", RowActions: []string{"remove"}}
	for _, ip := range ps {
		emails := "verified only"
		if ip.TrustEmail {
			emails = "trusted"
		}
		prov := ip.Provisioning
		if prov == domain.ProvisionJIT {
			prov += " (" + string(ip.DefaultRole) + ")"
		}
		l.Table.Rows = append(l.Table.Rows, ui.Row{ID: ip.ID, Cells: []string{ip.ID, ip.Name, ip.Issuer, ip.ClientID, strings.Join(ip.Scopes, " "), emails, prov}})
	}
	s.render(w, r, http.StatusOK, ui.ListPage(l))
}

func (s *Server) pageIdentityProviderPost(w http.ResponseWriter, r *http.Request, p *principal) {
	f := func(k string) *string { v := strings.TrimSpace(r.PostFormValue(k)); return &v }
	scopes := strings.Fields(r.PostFormValue("scopes"))
	trust := r.PostFormValue("trust_email") == "trust unverified"
	role := domain.Role(r.PostFormValue("default_role"))
	in := domain.IdentityProviderPatch{Name: f("name"), Issuer: f("issuer"), ClientID: f("client_id"), ClientSecret: f("client_secret"),
		Scopes: &scopes, TrustEmail: &trust, Provisioning: f("provisioning"), DefaultRole: &role}
	ip, err := p.dom.CreateIdentityProvider(r.Context(), p.domainActor(), in)
	if err != nil {
		s.redirect(w, r, "/identity-providers", flashError, "not added: "+s.problemMessage(err))
		return
	}
	s.redirect(w, r, "/identity-providers", flashInfo, "Identity provider "+ip.Name+" added; register "+s.oidcRedirect(r)+" as its redirect URL.")
}

func (s *Server) pageIdentityProviderRemove(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := p.dom.DeleteIdentityProvider(r.Context(), p.domainActor(), r.PathValue("id")); err != nil {
		s.redirect(w, r, "/identity-providers", flashError, "not removed: "+s.problemMessage(err))
		return
	}
	s.redirect(w, r, "/identity-providers", flashInfo, "Identity provider removed; its users stay.")
}

package server

import (
	"net/http"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// The tenant's identity providers over the REST API:
// /api/v1/identity-providers. The client secret is written, never read.

// IdentityProvider is an OpenID Connect provider as the API shows it.
type IdentityProvider struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Issuer   string   `json:"issuer"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes"`
	// TrustEmail accepts tokens without email_verified=true.
	TrustEmail bool `json:"trust_email"`
	// Provisioning is "jit" (unknown users are made with default_role)
	// or "invite" (existing users only).
	Provisioning string      `json:"provisioning"`
	DefaultRole  domain.Role `json:"default_role"`
	// HasSecret says a client secret is stored; it is never shown.
	HasSecret bool      `json:"has_client_secret"`
	Created   time.Time `json:"created"`
}

func identityProviderJSON(p domain.IdentityProvider) IdentityProvider {
	return IdentityProvider{ID: p.ID, Name: p.Name, Issuer: p.Issuer, ClientID: p.ClientID, Scopes: p.Scopes, TrustEmail: p.TrustEmail,
		Provisioning: p.Provisioning, DefaultRole: p.DefaultRole, HasSecret: p.HasSecret, Created: p.Created}
}

// identityProviderRequest adds or changes a provider: absent fields are
// left as they are (on POST: scopes "openid email profile", trust_email
// false, provisioning "invite", default_role "viewer").
type identityProviderRequest struct {
	Name         *string      `json:"name,omitempty"`
	Issuer       *string      `json:"issuer,omitempty"`
	ClientID     *string      `json:"client_id,omitempty"`
	ClientSecret *string      `json:"client_secret,omitempty"`
	Scopes       *[]string    `json:"scopes,omitempty"`
	TrustEmail   *bool        `json:"trust_email,omitempty"`
	Provisioning *string      `json:"provisioning,omitempty"`
	DefaultRole  *domain.Role `json:"default_role,omitempty"`
}

func (q identityProviderRequest) patch() domain.IdentityProviderPatch {
	return domain.IdentityProviderPatch{Name: q.Name, Issuer: q.Issuer, ClientID: q.ClientID, ClientSecret: q.ClientSecret,
		Scopes: q.Scopes, TrustEmail: q.TrustEmail, Provisioning: q.Provisioning, DefaultRole: q.DefaultRole}
}

func (s *Server) apiIdentityProviderRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/identity-providers", perm: permAdmin, h: s.apiListIdentityProviders},
		sensitive(route{method: "POST", path: "/api/v1/identity-providers", perm: permAdmin, h: s.apiCreateIdentityProvider}),
		{method: "GET", path: "/api/v1/identity-providers/{id}", perm: permAdmin, h: s.apiGetIdentityProvider},
		sensitive(route{method: "PATCH", path: "/api/v1/identity-providers/{id}", perm: permAdmin, h: s.apiUpdateIdentityProvider}),
		sensitive(route{method: "DELETE", path: "/api/v1/identity-providers/{id}", perm: permAdmin, h: s.apiDeleteIdentityProvider}),
	}
}

func (s *Server) apiListIdentityProviders(w http.ResponseWriter, r *http.Request, p *principal) {
	ps, err := p.dom.IdentityProviders(r.Context(), p.domainActor())
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	out := make([]IdentityProvider, len(ps))
	for i, ip := range ps {
		out[i] = identityProviderJSON(ip)
	}
	writeJSON(w, http.StatusOK, page[IdentityProvider]{Items: out})
}

func (s *Server) apiCreateIdentityProvider(w http.ResponseWriter, r *http.Request, p *principal) {
	var req identityProviderRequest
	if !decode(w, r, &req) {
		return
	}
	ip, err := p.dom.CreateIdentityProvider(r.Context(), p.domainActor(), req.patch())
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, identityProviderJSON(ip))
}

func (s *Server) apiGetIdentityProvider(w http.ResponseWriter, r *http.Request, p *principal) {
	ip, err := p.dom.IdentityProvider(r.Context(), p.domainActor(), r.PathValue("id"))
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, identityProviderJSON(ip))
}

func (s *Server) apiUpdateIdentityProvider(w http.ResponseWriter, r *http.Request, p *principal) {
	var req identityProviderRequest
	if !decode(w, r, &req) {
		return
	}
	ip, err := p.dom.UpdateIdentityProvider(r.Context(), p.domainActor(), r.PathValue("id"), req.patch())
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, identityProviderJSON(ip))
}

func (s *Server) apiDeleteIdentityProvider(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := p.dom.DeleteIdentityProvider(r.Context(), p.domainActor(), r.PathValue("id")); err != nil {
		s.writeProblem(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

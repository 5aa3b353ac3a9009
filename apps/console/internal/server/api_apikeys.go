package server

import (
	"context"
	"net/http"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// API keys over the REST API: /api/v1/apikeys. A key made here acts for
// whoever asks (see domain.Service.CreateAPIKey).

// APIKey is a key as the API shows it.
type APIKey struct {
	ID       string      `json:"id"` // also the public prefix of the key
	Name     string      `json:"name"`
	Role     domain.Role `json:"role"`
	Owner    string      `json:"owner"`
	Created  time.Time   `json:"created"`
	Expires  time.Time   `json:"expires"`
	LastUsed time.Time   `json:"last_used,omitzero"`
	Revoked  bool        `json:"revoked"`
	// Scope narrows the role: "read", a collection, "read:<collection>";
	// empty for none.
	Scope string `json:"scope,omitempty"`
	// ExpiresSoon is set within domain.ExpiringKeyWarning of the expiry.
	ExpiresSoon bool `json:"expires_soon,omitempty"`
}

func apiKeyOf(k domain.APIKey, now time.Time) APIKey {
	return APIKey{ID: k.ID, Name: k.Name, Role: k.Role, Owner: k.Owner, Created: k.Created, Expires: k.Expires, LastUsed: k.LastUsed, Revoked: k.Revoked,
		Scope: k.Scope.String(), ExpiresSoon: k.ExpiresSoon(now)}
}

func (s *Server) apiKeyRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/apikeys", perm: permAdmin, h: s.apiListKeys},
		{method: "POST", path: "/api/v1/apikeys", perm: permAdmin, h: s.apiCreateKey, sensitive: true},
		{method: "DELETE", path: "/api/v1/apikeys/{id}", perm: permAdmin, h: s.apiRevokeKey, sensitive: true},
	}
}

func (s *Server) apiListKeys(w http.ResponseWriter, r *http.Request, p *principal) {
	ks, err := p.dom.ListAPIKeys(r.Context(), p.domainActor())
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	out := make([]APIKey, len(ks))
	for i, k := range ks {
		out[i] = apiKeyOf(k, s.now())
	}
	writeJSON(w, http.StatusOK, page[APIKey]{Items: out})
}

type keyRequest struct {
	Name string      `json:"name"`
	Role domain.Role `json:"role"`
	// ExpiresInDays is the key's lifetime: 1 to domain.MaxAPIKeyDays
	// days, domain.DefaultAPIKeyDays when zero.
	ExpiresInDays int `json:"expires_in_days"`
	// Scope narrows Role: "read", a collection such as "devices", or
	// "read:devices"; empty for none.
	Scope string `json:"scope,omitempty"`
}

type keyCreated struct {
	Key    *APIKey `json:"key"`
	Secret string  `json:"secret"` // shown once
}

// CreateAPIKey makes a key for role, with no owner, that expires after
// domain.DefaultAPIKeyDays, and returns the bearer secret. It is for the
// console's own tools; keys made through the REST API always have the
// user who made them as owner.
func (s *Server) CreateAPIKey(ctx context.Context, name string, role domain.Role) (domain.APIKey, string, error) {
	return s.plat.Default().CreateToolKey(ctx, name, role)
}

func (s *Server) apiCreateKey(w http.ResponseWriter, r *http.Request, p *principal) {
	var req keyRequest
	if !decode(w, r, &req) {
		return
	}
	k, secret, err := p.dom.CreateAPIKey(r.Context(), p.domainActor(), domain.NewAPIKey(req))
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	j := apiKeyOf(k, s.now())
	writeJSON(w, http.StatusCreated, keyCreated{Key: &j, Secret: secret})
}

func (s *Server) apiRevokeKey(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := p.dom.RevokeAPIKey(r.Context(), p.domainActor(), r.PathValue("id")); err != nil {
		s.writeProblem(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

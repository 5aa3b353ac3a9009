package server

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// The gateways over the REST API: list, create and revoke (the
// operations are domain/gateways.go; the page is page_gateways.go).

// Gateway is the API shape of a gateway.
type Gateway struct {
	ID            string          `json:"id"`
	Name          string          `json:"name"`
	TokenExpires  time.Time       `json:"token_expires,omitzero"`
	Registered    time.Time       `json:"registered,omitzero"`
	Revoked       bool            `json:"revoked"`
	LastSeen      time.Time       `json:"last_seen,omitzero"`
	BundleVersion int64           `json:"bundle_version"`
	Status        json.RawMessage `json:"status,omitempty"`
	Created       time.Time       `json:"created"`
}

func apiGatewayOf(g domain.Gateway) Gateway {
	return Gateway{ID: g.ID, Name: g.Name, TokenExpires: g.TokenExpires, Registered: g.Registered, Revoked: g.Revoked,
		LastSeen: g.LastSeen, BundleVersion: g.BundleVersion, Status: g.Status, Created: g.Created}
}

func (s *Server) apiGatewayRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/gateways", perm: permRead, h: s.apiListGateways},
		{method: "POST", path: "/api/v1/gateways", perm: permOps, h: s.apiCreateGateway},
		{method: "DELETE", path: "/api/v1/gateways/{id}", perm: permOps, h: s.apiRevokeGateway},
	}
}

func (s *Server) apiListGateways(w http.ResponseWriter, r *http.Request, p *principal) {
	gs, err := p.dom.ListGateways(r.Context())
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	var out []Gateway // nil for nil, as the store answered
	if gs != nil {
		out = make([]Gateway, len(gs))
	}
	for i, g := range gs {
		out[i] = apiGatewayOf(g)
	}
	writeJSON(w, http.StatusOK, page[Gateway]{Items: out})
}

type gatewayRequest struct {
	Name string `json:"name"`
}

type gatewayCreated struct {
	Gateway Gateway `json:"gateway"`
	// Token is shown once; the gateway registers with it.
	Token string `json:"token"`
}

func (s *Server) apiCreateGateway(w http.ResponseWriter, r *http.Request, p *principal) {
	var req gatewayRequest
	if !decode(w, r, &req) {
		return
	}
	g, tok, err := p.dom.CreateGateway(r.Context(), p.domainActor(), domain.NewGateway{Name: req.Name})
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, gatewayCreated{Gateway: apiGatewayOf(g), Token: tok})
}

func (s *Server) apiRevokeGateway(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := p.dom.RevokeGateway(r.Context(), p.domainActor(), r.PathValue("id")); err != nil {
		s.writeProblem(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

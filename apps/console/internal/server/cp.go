package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// The control plane: gateways register, pull their bundle and report
// their status (events are cp_events.go). The operations and every check
// on what a gateway sends are the domain's (domain/gateways.go,
// domain/bundle.go); this file decodes, calls and answers.

func (s *Server) cpRoutes() []route {
	return []route{
		{method: "POST", path: "/cp/v1/register", perm: permPublic, h: s.cpRegister},
		{method: "GET", path: "/cp/v1/bundle", perm: permGateway, h: s.cpBundle},
		{method: "POST", path: "/cp/v1/status", perm: permGateway, h: s.cpStatus},
	}
}

func (s *Server) cpRegister(w http.ResponseWriter, r *http.Request, p *principal) {
	var req controlplane.RegisterRequest
	if !decode(w, r, &req) {
		return
	}
	// The bucket is the client's address (behind a trusted proxy, the
	// one it forwards): with the port in the key every new connection
	// would start a fresh one.
	if !s.loginIP.allow("register:"+s.clientSource(r), s.now()) {
		writeError(w, http.StatusTooManyRequests, "throttled", "too many attempts")
		return
	}
	// The token names the tenant the gateway registers into (see
	// domain.SplitCredential); its credential names the same one.
	tenant, token := domain.SplitCredential(req.Token)
	dom, err := s.plat.Service(r.Context(), tenant)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "unauthorized", "registration token refused")
		return
	}
	g, secret, err := dom.RegisterGateway(r.Context(), domain.Registration{Token: token, Name: req.Name, Version: req.Version})
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	s.hub.publish(s.hub.event(tenant, "gateway", map[string]any{"id": g.ID, "name": g.Name, "registered": true}))
	writeJSON(w, http.StatusOK, controlplane.Credential{GatewayID: dom.Credential(g.ID), Secret: secret})
}

// cpBundle answers with the bundle when the configuration version is
// past ?after=, else waits for it to move (up to ?wait=) and answers 204.
func (s *Server) cpBundle(w http.ResponseWriter, r *http.Request, p *principal) {
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
	wait = min(max(wait, 0), controlplane.MaxWait)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		v, changed := s.hub.current(p.tenant)
		if v == 0 {
			var err error
			if v, err = p.dom.ConfigVersion(r.Context()); err != nil {
				s.writeProblem(w, err)
				return
			}
		}
		if v > after {
			b, err := p.dom.Bundle(r.Context(), *p.gateway)
			if err != nil {
				s.writeProblem(w, err)
				return
			}
			if b.Version > after {
				writeJSON(w, http.StatusOK, b)
				return
			}
		}
		select {
		case <-changed:
		case <-timer.C:
			w.WriteHeader(http.StatusNoContent)
			return
		case <-r.Context().Done():
			return
		case <-s.hub.done:
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
}

// cpStatus stores a gateway's status report; a refused report leaves the
// last good one in place.
func (s *Server) cpStatus(w http.ResponseWriter, r *http.Request, p *principal) {
	var st controlplane.Status
	if !decode(w, r, &st) {
		return
	}
	known, _ := s.hub.current(p.tenant)
	if err := p.dom.ReportStatus(r.Context(), *p.gateway, st, known); err != nil {
		s.writeProblem(w, err)
		return
	}
	s.hub.publish(s.hub.event(p.tenant, "gateway", map[string]any{"id": p.gateway.ID, "name": p.gateway.Name, "status": st}))
	w.WriteHeader(http.StatusNoContent)
}

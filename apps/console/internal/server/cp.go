package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

type auditEvent = store.AuditEvent

func (s *Server) cpRoutes() []route {
	return []route{
		{method: "POST", path: "/cp/v1/register", perm: permPublic, h: s.cpRegister},
		{method: "GET", path: "/cp/v1/bundle", perm: permGateway, h: s.cpBundle},
		{method: "POST", path: "/cp/v1/events", perm: permGateway, h: s.cpEvents},
		{method: "POST", path: "/cp/v1/status", perm: permGateway, h: s.cpStatus},
	}
}

func (s *Server) cpRegister(w http.ResponseWriter, r *http.Request, _ *principal) {
	var req controlplane.RegisterRequest
	if !decode(w, r, &req) {
		return
	}
	now := s.now()
	// The bucket is the client's address (behind a trusted proxy, the
	// one it forwards): with the port in the key every new connection
	// would start a fresh one.
	if !s.loginIP.allow("register:"+s.clientSource(r), now) {
		writeError(w, http.StatusTooManyRequests, "throttled", "too many attempts")
		return
	}
	secret := randomToken()
	g, err := s.st.RegisterGateway(r.Context(), tokenHash(req.Token), tokenHash(secret), now)
	if err != nil {
		s.storeError(w, err)
		return
	}
	s.audit(r.Context(), "gateway:"+g.Name, "gateway.register", g.Name, "", map[string]string{"reported_name": req.Name, "version": req.Version})
	s.hub.publish(s.hub.event("gateway", map[string]any{"id": g.ID, "name": g.Name, "registered": true}))
	writeJSON(w, http.StatusOK, controlplane.Credential{GatewayID: g.ID, Secret: secret})
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
		v, changed := s.hub.current()
		if v == 0 {
			var err error
			if v, err = s.st.ConfigVersion(r.Context()); err != nil {
				s.storeError(w, err)
				return
			}
		}
		if v > after {
			b, err := s.bundle(r.Context(), p.gateway)
			if err != nil {
				s.storeError(w, err)
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

// bundle reads the whole configuration at the current version, as gateway
// g sees it: the resources are those assigned to no gateway or to g (by
// id or name). The version is read first: a change racing with the read
// bumps it again, so the gateway pulls once more and never keeps a stale
// bundle.
func (s *Server) bundle(ctx context.Context, g *store.Gateway) (*controlplane.Bundle, error) {
	v, err := s.st.ConfigVersion(ctx)
	if err != nil {
		return nil, err
	}
	b := &controlplane.Bundle{Version: v, Generated: s.now(), Policies: []controlplane.Policy{}, Resources: []controlplane.Resource{}, Users: []controlplane.Identity{}, Devices: []controlplane.Device{}}
	if err := eachPage(func(after string) (string, int, error) {
		ps, err := s.st.ListPolicies(ctx, store.ListOptions{After: after, Limit: 1000})
		for _, p := range ps {
			if p.Enabled {
				b.Policies = append(b.Policies, controlplane.Policy{Name: p.Name, Version: p.Version, Source: p.Source})
			}
		}
		return lastKey(len(ps), func() string { return ps[len(ps)-1].Name }), len(ps), err
	}); err != nil {
		return nil, err
	}
	if err := eachPage(func(after string) (string, int, error) {
		rs, err := s.st.ListResources(ctx, store.ListOptions{After: after, Limit: 1000})
		for _, r := range rs {
			if r.Gateway != "" && r.Gateway != g.ID && r.Gateway != g.Name {
				continue
			}
			b.Resources = append(b.Resources, controlplane.Resource{Name: r.Name, Kind: r.Kind, Address: r.Address, Port: r.Port, Labels: r.Labels})
		}
		return lastKey(len(rs), func() string { return rs[len(rs)-1].Name }), len(rs), err
	}); err != nil {
		return nil, err
	}
	disabled := map[string]bool{}
	if err := eachPage(func(after string) (string, int, error) {
		us, err := s.st.ListUsers(ctx, store.ListOptions{After: after, Limit: 1000})
		for _, u := range us {
			disabled[u.ID] = u.Disabled
			b.Users = append(b.Users, controlplane.Identity{ID: u.ID, Email: u.Email, Groups: u.Groups, Roles: []string{string(u.Role)}, Disabled: u.Disabled})
		}
		return lastKey(len(us), func() string { return us[len(us)-1].ID }), len(us), err
	}); err != nil {
		return nil, err
	}
	if err := eachPage(func(after string) (string, int, error) {
		ds, err := s.st.ListDevices(ctx, "", store.ListOptions{After: after, Limit: 1000})
		for _, d := range ds {
			b.Devices = append(b.Devices, controlplane.Device{
				ID: d.ID, Name: d.Name, Owner: d.Owner, PublicKey: d.PublicKey, Address: d.Address,
				Disabled: d.Disabled || disabled[d.Owner], Posture: d.Posture, PostureSource: d.PostureSource, SessionExpires: d.SessionExpires, MFATime: d.MFATime,
			})
		}
		return lastKey(len(ds), func() string { return ds[len(ds)-1].ID }), len(ds), err
	}); err != nil {
		return nil, err
	}
	return b, nil
}

func lastKey(n int, f func() string) string {
	if n == 0 {
		return ""
	}
	return f()
}

func eachPage(f func(after string) (string, int, error)) error {
	after := ""
	for {
		next, n, err := f(after)
		if err != nil || n < 1000 {
			return err
		}
		after = next
	}
}

func (s *Server) cpStatus(w http.ResponseWriter, r *http.Request, p *principal) {
	var st controlplane.Status
	if !decode(w, r, &st) {
		return
	}
	// A refused report leaves the last good one in place.
	if err := validateStatus(&st); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "%v", err)
		return
	}
	if err := checkRisk(r.Context(), s.bundleMembers(), st.Risk); err != nil {
		if !errors.Is(err, errOutsideBundle) && !errors.Is(err, errBadRisk) {
			s.storeError(w, err)
			return
		}
		writeError(w, http.StatusBadRequest, "invalid", "%v", err)
		return
	}
	data, _ := json.Marshal(st)
	if err := s.st.UpdateGatewayStatus(r.Context(), p.gateway.ID, s.now(), st.BundleVersion, data); err != nil {
		s.storeError(w, err)
		return
	}
	s.hub.publish(s.hub.event("gateway", map[string]any{"id": p.gateway.ID, "name": p.gateway.Name, "status": st}))
	w.WriteHeader(http.StatusNoContent)
}

// errBadRisk refuses a risk report that no gateway makes.
var errBadRisk = errors.New("console: bad risk report")

// checkRisk refuses a status whose risk list is longer than
// controlplane.MaxRisk, holds a score outside 1..100, or names a subject
// outside the gateway's bundle: a gateway raises risk only for the users
// it decides for. Other errors are the store's.
func checkRisk(ctx context.Context, m *bundleMembers, rs []controlplane.SubjectRisk) error {
	if len(rs) > controlplane.MaxRisk {
		return fmt.Errorf("%w: %d subjects, at most %d", errBadRisk, len(rs), controlplane.MaxRisk)
	}
	for _, r := range rs {
		if r.Score < 1 || r.Score > 100 {
			return fmt.Errorf("%w: subject %q: score %d outside 1..100", errBadRisk, clip(r.Subject), r.Score)
		}
		ok, err := m.user(ctx, r.Subject)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("console: risk for subject %q: %w", clip(r.Subject), errOutsideBundle)
		}
	}
	return nil
}

package ztna

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"golang.org/x/time/rate"

	"github.com/gonaut/gonaut/analytics"
	"github.com/gonaut/gonaut/policy"
	"github.com/gonaut/gonaut/tunnel"
)

// access is one identified and enriched access attempt: who, from where,
// to what.
type access struct {
	peer  tunnel.Key
	inner netip.AddrPort // the peer's address in the tunnel
	outer netip.AddrPort // the peer's UDP endpoint, when known
	id    Identity
	geo   analytics.Geo
	res   *resource
	srcIP string // source.ip of its policy requests
}

// identify maps a peer to its identity and enriches it with its outer
// address and that address's location.
func (g *Gateway) identify(ctx context.Context, st *state, peer tunnel.Key, src netip.AddrPort, res *resource) (*access, error) {
	a := &access{peer: peer, inner: src, res: res}
	if peer.IsZero() {
		return a, fmt.Errorf("%w: no peer owns %s", ErrUnknownPeer, src.Addr())
	}
	id, err := st.dir.Lookup(ctx, peer)
	if err != nil {
		return a, err
	}
	a.id = id
	a.outer = g.endpoint(peer)
	if a.outer.IsValid() { // formatted once per access, not per policy request
		a.srcIP = a.outer.Addr().String()
	} else {
		a.srcIP = src.Addr().String()
	}
	if g.geo != nil && a.outer.IsValid() {
		if geo, err := g.geo.Lookup(a.outer.Addr()); err == nil {
			a.geo = geo
		}
	}
	return a, nil
}

// request is the policy request of an access at now.
func (g *Gateway) request(a *access) policy.Request {
	req := policy.Request{
		Subject: a.id.Subject,
		Device:  a.id.Device,
		Source:  policy.Source{IP: a.srcIP, Country: a.geo.Country, ASN: int64(a.geo.ASN)},
		Resource: policy.Resource{
			Kind: string(a.res.cfg.Kind), Name: a.res.cfg.Name, Labels: a.res.cfg.Labels,
			Address: a.res.addr.String(), Port: int64(a.res.port),
		},
		Time: time.Now(),
	}
	if g.analytics != nil && a.id.Subject.ID != "" {
		r := g.analytics.Risk(a.id.Subject.ID)
		req.Risk = policy.Risk{Score: int64(r.Score), Signals: r.Signals}
	}
	return req
}

// verdict is the decision with the obligations the gateway enforces
// itself applied: nil admits the access, an error says why not.
func verdict(d *policy.Decision, req *policy.Request) error {
	if !d.Allowed() {
		if d.Rule == "" {
			return fmt.Errorf("%w: no rule allows it", ErrDenied)
		}
		if desc := d.Description(); desc != "" {
			// The rule's own words tell the person refused what to do.
			return fmt.Errorf("%w: rule %s: %s", ErrDenied, d.Rule, desc)
		}
		return fmt.Errorf("%w: rule %s", ErrDenied, d.Rule)
	}
	if d.Obligations.RequireMFA && !req.Subject.MFA {
		return fmt.Errorf("%w: rule %s", ErrMFARequired, d.Rule)
	}
	return nil
}

func (g *Gateway) event(kind string, a *access) *Event {
	ev := &Event{Time: time.Now(), Kind: kind, Subject: a.id.Subject.ID, Device: a.id.Device.ID,
		peerKey: a.peer, outer: a.outer.Addr(), inner: a.inner.Addr()}
	ev.Country, ev.ASN = a.geo.Country, a.geo.ASN
	if a.res != nil {
		ev.Resource, ev.RKind = a.res.cfg.Name, string(a.res.cfg.Kind)
	}
	return ev
}

func effectOf(err error) string {
	if err == nil {
		return "allow"
	}
	return "deny"
}

// refuse records a denied decision for a flow and refuses it (a TCP reset).
func (g *Gateway) refuse(f *tunnel.Flow, a *access, why error) {
	ev := g.event(EventDecision, a)
	ev.Effect, ev.Reason = "deny", why.Error()
	g.emit(ev)
	f.Refuse()
}

// handleFlow is the tunnel's FlowHandler: every new flow from a peer.
func (g *Gateway) handleFlow(ctx context.Context, f *tunnel.Flow) {
	start := time.Now()
	st := g.state.Load()
	if g.draining.Load() {
		f.Refuse()
		return
	}
	res := st.byDest[f.Destination]
	if res == nil || (f.Protocol == tunnel.UDP) != (res.cfg.Kind == KindUDP) {
		f.Refuse() // a UDP flow is decided only for a udp resource, and vice versa
		return
	}
	ctx, span := g.tracer.Start(ctx, "ztna.flow")
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(attribute.String("resource", res.cfg.Name), attribute.String("source", f.Source.String()))
	}

	a, err := g.identify(ctx, st, f.Peer, f.Source, res)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		g.refuse(f, a, err)
		return
	}
	if span.IsRecording() {
		span.SetAttributes(attribute.String("subject", a.id.Subject.ID), attribute.String("device", a.id.Device.ID))
	}
	switch res.cfg.Kind {
	case KindHTTP:
		g.serveHTTPFlow(ctx, st, f, a)
		return
	case KindUSB, KindSerial:
		if res.cfg.Kind == KindUSB || res.cfg.Connector == "" {
			g.serveDeviceFlow(ctx, st, f, a)
			return
		}
		// A serial port on a connector: decided here, then its RFC 2217
		// or raw bytes pass through to the connector's serial server.
	}

	req := g.request(a)
	var absent error
	if res.cfg.Connector != "" {
		absent = g.connectorFacts(res, &req.Resource)
	}
	d := g.engine.Decide(ctx, &req)
	why := verdict(&d, &req)
	if why == nil {
		why = absent
	}
	var bw []*rate.Limiter
	if why == nil {
		var ok bool
		if bw, ok = st.limits.admit(a.id); !ok {
			why = ErrRateLimited
		} else {
			defer st.limits.release(a.id)
		}
	}
	var up net.Conn
	var u *upstream
	if why == nil {
		up, u, err = res.pool.connect(ctx)
		if err != nil {
			why = err
		} else {
			defer u.active.Add(-1)
		}
	}
	g.metrics.latency.Record(ctx, time.Since(start).Seconds())
	ev := g.event(EventDecision, a)
	ev.Effect, ev.Rule, ev.Request = effectOf(why), d.Rule, req
	if why != nil {
		ev.Reason = why.Error()
	} else {
		ev.Upstream = u.addr
	}
	g.emit(ev)
	if why != nil {
		span.SetStatus(codes.Error, why.Error())
		f.Refuse()
		return
	}
	conn, err := f.Accept()
	if err != nil {
		up.Close()
		return
	}
	conn = throttle(conn, bw)
	lf := &liveFlow{a: a, req: req, hasReq: true, start: time.Now(), maxSession: d.Obligations.MaxSession, conns: []net.Conn{conn, up}}
	g.flows.add(lf)
	in, out := splice(conn, up, res.cfg.IdleTimeout, res.cfg.Kind == KindUDP)
	g.flows.remove(lf)
	fev := g.event(EventFlow, a)
	fev.Effect, fev.Rule, fev.Upstream = "allow", d.Rule, u.addr
	fev.BytesIn, fev.BytesOut = in, out
	fev.Duration = time.Since(lf.start).Seconds()
	if r := lf.reason(); r != nil {
		fev.Reason = r.Error()
	}
	g.emit(fev)
}

package ztna

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
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

// liveFlow is an admitted flow that re-decisions may cut.
type liveFlow struct {
	id         uint64
	a          *access
	start      time.Time
	maxSession time.Duration
	conns      []net.Conn

	mu sync.Mutex
	// guarded by mu
	req    policy.Request // the last request decided (for HTTP: the last request on the connection)
	hasReq bool
	why    error
	cutAt  time.Time
}

func (lf *liveFlow) setRequest(req policy.Request, maxSession time.Duration) {
	lf.mu.Lock()
	lf.req, lf.hasReq = req, true
	if maxSession > 0 {
		lf.maxSession = maxSession
	}
	lf.mu.Unlock()
}

// cut closes the flow's connections with why; later calls do nothing.
func (lf *liveFlow) cut(why error) bool {
	lf.mu.Lock()
	if lf.why != nil {
		lf.mu.Unlock()
		return false
	}
	lf.why, lf.cutAt = why, time.Now()
	lf.mu.Unlock()
	for _, c := range lf.conns {
		c.Close()
	}
	return true
}

func (lf *liveFlow) reason() error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	return lf.why
}

// flowTable holds the live flows.
type flowTable struct {
	mu sync.Mutex
	// guarded by mu
	m    map[uint64]*liveFlow
	next uint64
}

func (t *flowTable) add(lf *liveFlow) {
	t.mu.Lock()
	t.next++
	lf.id = t.next
	t.m[lf.id] = lf
	t.mu.Unlock()
}

func (t *flowTable) remove(lf *liveFlow) {
	t.mu.Lock()
	delete(t.m, lf.id)
	t.mu.Unlock()
}

func (t *flowTable) list() []*liveFlow {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*liveFlow, 0, len(t.m))
	for _, lf := range t.m {
		out = append(out, lf)
	}
	return out
}

func (t *flowTable) cutAll(why error) {
	for _, lf := range t.list() {
		lf.cut(why)
	}
}

// Reauthorize re-decides every live flow now, with the current policy,
// the directory's current identity and the current risk score, and cuts
// the flows that are now denied (or past their max_session). Call it after
// changing a Directory the gateway does not own; Reload and SetPolicy call
// it themselves.
func (g *Gateway) Reauthorize(ctx context.Context) int {
	st := g.state.Load()
	cut := 0
	for _, lf := range g.flows.list() {
		if why := g.redecide(ctx, st, lf); why != nil {
			if lf.cut(fmt.Errorf("%w: %w", ErrRevoked, why)) {
				g.flows.remove(lf) // no longer live, though its goroutine may still be unwinding
				cut++
				ev := g.event(EventRevoke, lf.a)
				ev.Effect, ev.Reason = "deny", why.Error()
				g.emit(ev)
			}
		}
	}
	return cut
}

func (g *Gateway) redecide(ctx context.Context, st *state, lf *liveFlow) error {
	lf.mu.Lock()
	req, has, maxSession := lf.req, lf.hasReq, lf.maxSession
	lf.mu.Unlock()
	if maxSession > 0 && time.Since(lf.start) > maxSession {
		return errors.New("max_session reached")
	}
	id, err := st.dir.Lookup(ctx, lf.a.peer)
	if err != nil {
		return err
	}
	if cur := st.byName[lowerName(lf.a.res.cfg.Name)]; cur == nil {
		return errors.New("resource removed")
	}
	if !has {
		return nil
	}
	req.Subject, req.Device, req.Time = id.Subject, id.Device, time.Now()
	if g.analytics != nil {
		r := g.analytics.Risk(id.Subject.ID)
		req.Risk = policy.Risk{Score: int64(r.Score), Signals: r.Signals}
	}
	d := g.engine.Decide(ctx, &req)
	return verdict(&d, &req)
}

// kick asks the recheck loop to re-decide live flows soon.
func (g *Gateway) kick() {
	select {
	case g.kickc <- struct{}{}:
	default:
	}
}

// recheckLoop re-decides live flows every Config.Recheck and when kicked,
// so that expiring sessions and rising risk cut flows within that time.
func (g *Gateway) recheckLoop() {
	defer g.wg.Done()
	d := g.state.Load().recheck
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-g.ctx.Done():
			return
		case <-t.C:
		case <-g.kickc:
		}
		if nd := g.state.Load().recheck; nd != d {
			d = nd
			t.Reset(d)
		}
		g.Reauthorize(g.ctx)
	}
}

// Splice buffers. A direction of a flow waits for data with a small
// buffer and borrows a large one only while reads fill the small one, so
// that a thousand idle flows hold 4 MiB of buffers, not 64.
var (
	copyBufs  = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
	smallBufs = sync.Pool{New: func() any { b := make([]byte, 2<<10); return &b }}
)

// copyAdaptive copies src to dst until EOF or an error, as io.Copy does,
// switching between a small and a large buffer with the size of reads.
// With packets (a UDP flow, where a read shorter than a datagram
// truncates it) it reads into the large buffer only.
func copyAdaptive(dst io.Writer, src io.Reader, packets bool) (written int64, err error) {
	small := smallBufs.Get().(*[]byte)
	defer smallBufs.Put(small)
	var big *[]byte
	defer func() {
		if big != nil {
			copyBufs.Put(big)
		}
	}()
	buf := *small
	if packets {
		big = copyBufs.Get().(*[]byte)
		buf = *big
	}
	for {
		nr, er := src.Read(buf)
		if nr > 0 {
			nw, ew := dst.Write(buf[:nr])
			if nw < 0 || nw > nr {
				nw, ew = 0, errors.New("invalid write result")
			}
			written += int64(nw)
			if ew != nil {
				return written, ew
			}
			if nw != nr {
				return written, io.ErrShortWrite
			}
		}
		if er != nil {
			if er == io.EOF {
				return written, nil
			}
			return written, er
		}
		switch {
		case big == nil && nr == len(buf):
			big = copyBufs.Get().(*[]byte)
			buf = *big
		case big != nil && nr < len(*small) && !packets:
			copyBufs.Put(big)
			big, buf = nil, *small
		}
	}
}

type closeWriter interface{ CloseWrite() error }

// splice copies between the peer's connection and the upstream until both
// directions end or either connection is closed, and returns the bytes
// each way. idle > 0 closes both after that long without a byte either
// way; packets says the connections carry datagrams (a udp flow).
func splice(peer, up net.Conn, idle time.Duration, packets bool) (in, out uint64) {
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	copyDir := func(dst, src net.Conn, n *uint64) {
		var w io.Writer = dst
		if idle > 0 {
			w = touchWriter{w: w, last: &last}
		}
		c, err := copyAdaptive(w, src, packets)
		*n = uint64(c)
		if cw, ok := dst.(closeWriter); ok && err == nil {
			cw.CloseWrite()
		} else {
			dst.Close()
			src.Close()
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyDir(peer, up, &out)
	}()
	if idle > 0 {
		// One timer per flow, not a goroutine: it fires when the flow may
		// have gone idle and re-arms itself for the rest if it has not.
		var mu sync.Mutex
		var t *time.Timer // guarded by mu, like stopped
		stopped := false
		mu.Lock()
		t = time.AfterFunc(idle, func() {
			mu.Lock()
			defer mu.Unlock()
			if stopped {
				return
			}
			if rest := idle - time.Since(time.Unix(0, last.Load())); rest > 0 {
				t.Reset(rest)
				return
			}
			peer.Close()
			up.Close()
		})
		mu.Unlock()
		defer func() {
			mu.Lock()
			stopped = true
			t.Stop()
			mu.Unlock()
		}()
	}
	copyDir(up, peer, &in)
	<-done
	peer.Close()
	up.Close()
	return in, out
}

type touchWriter struct {
	w    io.Writer
	last *atomic.Int64
}

func (t touchWriter) Write(p []byte) (int, error) {
	t.last.Store(time.Now().UnixNano())
	return t.w.Write(p)
}

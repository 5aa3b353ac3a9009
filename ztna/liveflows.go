package ztna

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/gonaut/gonaut/policy"
)

// liveFlow is an admitted flow that re-decisions may cut.
type liveFlow struct {
	id         uint64
	a          *access
	start      time.Time
	maxSession time.Duration
	conns      []net.Conn
	// rule and upstream are the flow's admission, for its closed-flow
	// event; a device flow has neither.
	rule, upstream string

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

// decided reports whether a request was decided on the flow.
func (lf *liveFlow) decided() bool {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	return lf.hasReq
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

// endFlow removes a spliced or device flow from the live flows and
// records its closed-flow event: its bytes each way, its duration and why
// it ended (a cut, else err unless it is only the connection closing). A
// flow on which nothing was decided (a USB/IP device list) opened nothing
// and leaves no record.
func (g *Gateway) endFlow(lf *liveFlow, in, out uint64, err error) {
	g.flows.remove(lf)
	if !lf.decided() {
		return
	}
	ev := g.event(EventFlow, lf.a)
	ev.Effect, ev.Rule, ev.Upstream = "allow", lf.rule, lf.upstream
	ev.BytesIn, ev.BytesOut = in, out
	ev.Duration = time.Since(lf.start).Seconds()
	if r := lf.reason(); r != nil {
		ev.Reason = r.Error()
	} else if err != nil && !errors.Is(err, net.ErrClosed) {
		ev.Reason = err.Error()
	}
	g.emit(ev)
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

// redecide is why lf must be cut now, or nil: past its max_session, or
// no longer allowed by the decision owner (access.go) with st.
func (g *Gateway) redecide(ctx context.Context, st *state, lf *liveFlow) error {
	lf.mu.Lock()
	req, has, maxSession := lf.req, lf.hasReq, lf.maxSession
	lf.mu.Unlock()
	if maxSession > 0 && time.Since(lf.start) > maxSession {
		return errors.New("max_session reached")
	}
	d := g.decide(ctx, &accessQuery{
		st: st, within: lf.a, res: st.byName[lowerName(lf.a.res.cfg.Name)],
		recheck: true, last: &req, undecided: !has,
	})
	return d.why
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

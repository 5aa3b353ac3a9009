package ztna

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ejectFor is how long a passive failure (a failed dial or proxied
// request) takes an upstream out of rotation. The last upstream of a pool
// that is up is never ejected (see pool.eject).
const ejectFor = 10 * time.Second

// UpstreamStatus is the live state of one upstream target.
type UpstreamStatus struct {
	Address string
	Healthy bool // passing active checks and not ejected
	Active  int  // live flows or requests
}

type upstream struct {
	addr         string
	healthy      atomic.Bool
	ejectedUntil atomic.Int64 // unix nanos
	active       atomic.Int64
}

func (u *upstream) up(now time.Time) bool {
	return u.healthy.Load() && now.UnixNano() >= u.ejectedUntil.Load()
}

// pool balances flows over a resource's upstreams and health-checks them.
type pool struct {
	ups       []*upstream
	leastConn bool
	next      atomic.Uint64
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	timeout   time.Duration
	hc        HealthCheckConfig
	http      bool
	network   string // tcp, or udp for udp resources

	// ejectMu makes eject's look at the other upstreams and its ejection
	// one step, so that concurrent failures cannot eject every upstream.
	ejectMu sync.Mutex
}

func newPool(rc ResourceConfig, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *pool {
	p := &pool{leastConn: rc.Balance == "least_conn", dial: dial, timeout: rc.DialTimeout, hc: rc.HealthCheck, http: rc.Kind == KindHTTP, network: "tcp"}
	if rc.Kind == KindUDP {
		p.network = "udp"
	}
	if p.timeout == 0 {
		p.timeout = 5 * time.Second
	}
	if p.hc.Timeout == 0 {
		p.hc.Timeout = time.Second
	}
	for _, a := range rc.Upstreams {
		u := &upstream{addr: a}
		u.healthy.Store(true)
		p.ups = append(p.ups, u)
	}
	return p
}

// pick chooses an upstream that is up, or nil.
func (p *pool) pick() *upstream { return p.pickExcept(nil) }

// pickExcept chooses an upstream that is up and not in tried, or nil.
func (p *pool) pickExcept(tried []*upstream) *upstream {
	now := time.Now()
	if p.leastConn {
		var best *upstream
		for _, u := range p.ups {
			if u.up(now) && !slices.Contains(tried, u) && (best == nil || u.active.Load() < best.active.Load()) {
				best = u
			}
		}
		return best
	}
	n := uint64(len(p.ups))
	start := p.next.Add(1) - 1
	for i := range n {
		if u := p.ups[(start+i)%n]; u.up(now) && !slices.Contains(tried, u) {
			return u
		}
	}
	return nil
}

// eject takes u out of rotation for ejectFor after a passive failure,
// unless it is the last upstream of the pool that is up: one failed dial
// (a network blip, a connector's tunnel re-handshaking) would otherwise
// leave a resource with a single upstream, such as a connector's service,
// unreachable for ejectFor although the next dial might succeed. Flows
// keep trying the last upstream instead, each with its own dial timeout;
// an active health check, where configured, still takes it out when it
// fails. It reports whether u was ejected.
func (p *pool) eject(u *upstream) bool {
	p.ejectMu.Lock()
	defer p.ejectMu.Unlock()
	now := time.Now()
	for _, o := range p.ups {
		if o != u && o.up(now) {
			u.ejectedUntil.Store(now.Add(ejectFor).UnixNano())
			return true
		}
	}
	return false
}

// connect dials an upstream, trying each healthy one at most once. The
// caller must call done when the flow ends.
func (p *pool) connect(ctx context.Context) (net.Conn, *upstream, error) {
	var last error
	tried := make([]*upstream, 0, min(len(p.ups), 4))
	for range p.ups {
		u := p.pickExcept(tried)
		if u == nil {
			break
		}
		tried = append(tried, u)
		dctx, cancel := context.WithTimeout(ctx, p.timeout)
		c, err := p.dial(dctx, p.network, u.addr)
		cancel()
		if err == nil {
			u.active.Add(1)
			return c, u, nil
		}
		last = err
		p.eject(u)
	}
	if last != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrNoUpstream, last)
	}
	return nil, nil, ErrNoUpstream
}

func (p *pool) status() []UpstreamStatus {
	now := time.Now()
	out := make([]UpstreamStatus, len(p.ups))
	for i, u := range p.ups {
		out[i] = UpstreamStatus{Address: u.addr, Healthy: u.up(now), Active: int(u.active.Load())}
	}
	return out
}

// checkAll runs one round of active health checks.
func (p *pool) checkAll(ctx context.Context, client *http.Client) {
	var wg sync.WaitGroup
	for _, u := range p.ups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u.healthy.Store(p.check(ctx, client, u))
		}()
	}
	wg.Wait()
}

func (p *pool) check(ctx context.Context, client *http.Client, u *upstream) bool {
	ctx, cancel := context.WithTimeout(ctx, p.hc.Timeout)
	defer cancel()
	if p.http && p.hc.Path != "" {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+u.addr+p.hc.Path, nil)
		if err != nil {
			return false
		}
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode >= 200 && resp.StatusCode < 400
	}
	c, err := p.dial(ctx, "tcp", u.addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// runChecks checks the pool every interval until ctx ends. The first round
// runs at once.
func (p *pool) runChecks(ctx context.Context, client *http.Client) {
	if p.hc.Interval <= 0 {
		return
	}
	t := time.NewTicker(p.hc.Interval)
	defer t.Stop()
	for {
		p.checkAll(ctx, client)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func splitHostPort(s string) (string, int, error) {
	h, ps, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", ps)
	}
	if h == "" {
		return "", 0, fmt.Errorf("missing host")
	}
	return h, port, nil
}

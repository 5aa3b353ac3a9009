package ztna

import (
	"context"
	"net"
	"sync"

	"golang.org/x/time/rate"
)

// limiter applies one LimitConfig to many keys (users or devices).
type limiter struct {
	cfg LimitConfig
	mu  sync.Mutex
	// guarded by mu
	keys map[string]*limitKey
}

type limitKey struct {
	rate   *rate.Limiter
	bw     *rate.Limiter // bytes, shared by the key's flows; nil without a bandwidth limit
	active int
}

func newLimiter(cfg LimitConfig) *limiter {
	return &limiter{cfg: cfg, keys: map[string]*limitKey{}}
}

func (l *limiter) keyLocked(k string) *limitKey {
	e := l.keys[k]
	if e == nil {
		e = &limitKey{}
		if l.cfg.FlowsPerSecond > 0 {
			b := l.cfg.Burst
			if b <= 0 {
				b = max(1, int(l.cfg.FlowsPerSecond))
			}
			e.rate = rate.NewLimiter(rate.Limit(l.cfg.FlowsPerSecond), b)
		}
		if bps := l.cfg.BytesPerSecond; bps > 0 {
			e.bw = rate.NewLimiter(rate.Limit(bps), int(max(bps, minBandwidthBurst)))
		}
		l.keys[k] = e
	}
	return e
}

// allow takes one token for a new request without holding a concurrency
// slot.
func (l *limiter) allow(k string) bool {
	if l == nil || l.cfg.FlowsPerSecond <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.keyLocked(k).rate.Allow()
}

// minBandwidthBurst is the least burst of a bandwidth limiter: a second's
// worth of bytes, but never less than one splice buffer read.
const minBandwidthBurst = 64 << 10

func (l *limiter) tracks() bool {
	return l != nil && (l.cfg.FlowsPerSecond > 0 || l.cfg.Concurrent > 0 || l.cfg.BytesPerSecond > 0)
}

// acquire admits a new flow for k, or reports false. A true result must be
// paired with release. bw is k's bandwidth limiter, shared by all its
// flows, or nil.
func (l *limiter) acquire(k string) (bw *rate.Limiter, ok bool) {
	if !l.tracks() {
		return nil, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.keyLocked(k)
	if l.cfg.Concurrent > 0 && e.active >= l.cfg.Concurrent {
		return nil, false
	}
	if e.rate != nil && !e.rate.Allow() {
		return nil, false
	}
	e.active++
	return e.bw, true
}

func (l *limiter) release(k string) {
	if !l.tracks() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.keys[k]; e != nil {
		e.active--
		// A key is forgotten only once its buckets are full again, so that
		// closing and reopening flows does not refill them.
		if e.active <= 0 && full(e.rate) && full(e.bw) {
			delete(l.keys, k)
		}
	}
}

func full(l *rate.Limiter) bool { return l == nil || l.Tokens() >= float64(l.Burst()) }

// limits are the per-user and per-device limiters of one configuration.
type limits struct {
	user, device *limiter
}

func newLimits(c RateLimitConfig) *limits {
	return &limits{user: newLimiter(c.PerUser), device: newLimiter(c.PerDevice)}
}

// admit admits a new flow of id, or reports false, and returns the flow's
// bandwidth limiters: the user's and the device's, shared with their
// other flows; nil if neither has one. A true result must be paired with
// release.
func (ls *limits) admit(id Identity) (bw []*rate.Limiter, ok bool) {
	ubw, ok := ls.user.acquire(id.Subject.ID)
	if !ok {
		return nil, false
	}
	dbw, ok := ls.device.acquire(id.Device.ID)
	if !ok {
		ls.user.release(id.Subject.ID)
		return nil, false
	}
	for _, l := range []*rate.Limiter{ubw, dbw} {
		if l != nil {
			bw = append(bw, l)
		}
	}
	return bw, true
}

func (ls *limits) release(id Identity) {
	ls.user.release(id.Subject.ID)
	ls.device.release(id.Device.ID)
}

func (ls *limits) allowRequest(id Identity) bool {
	return ls.user.allow(id.Subject.ID) && ls.device.allow(id.Device.ID)
}

// throttledConn is a peer's connection whose reads (bytes to the
// resource) and writes (bytes to the peer) wait for its user's and
// device's bandwidth limiters. Close also ends a wait in progress.
type throttledConn struct {
	net.Conn
	bw     []*rate.Limiter
	ctx    context.Context
	cancel context.CancelFunc
}

// throttle wraps c in a throttledConn when bw is not empty.
func throttle(c net.Conn, bw []*rate.Limiter) net.Conn {
	if len(bw) == 0 {
		return c
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &throttledConn{Conn: c, bw: bw, ctx: ctx, cancel: cancel}
}

// wait takes n bytes from every limiter, in pieces no larger than a
// limiter's burst.
func (t *throttledConn) wait(n int) error {
	for _, l := range t.bw {
		for left := n; left > 0; {
			chunk := min(left, l.Burst())
			if err := l.WaitN(t.ctx, chunk); err != nil {
				return net.ErrClosed
			}
			left -= chunk
		}
	}
	return nil
}

func (t *throttledConn) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	if n > 0 {
		if werr := t.wait(n); werr != nil && err == nil {
			err = werr
		}
	}
	return n, err
}

func (t *throttledConn) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		chunk := min(len(p), minBandwidthBurst)
		if err := t.wait(chunk); err != nil {
			return written, err
		}
		m, err := t.Conn.Write(p[:chunk])
		written += m
		if err != nil {
			return written, err
		}
		p = p[chunk:]
	}
	return written, nil
}

// CloseWrite half-closes the underlying connection when it can.
func (t *throttledConn) CloseWrite() error {
	if cw, ok := t.Conn.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return t.Conn.Close()
}

func (t *throttledConn) Close() error {
	t.cancel()
	return t.Conn.Close()
}

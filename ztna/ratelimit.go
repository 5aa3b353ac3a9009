package ztna

import (
	"context"
	"io"
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

// acquire admits a new flow for k, or reports false. A true result must be
// paired with release.
func (l *limiter) acquire(k string) bool {
	if l == nil || (l.cfg.FlowsPerSecond <= 0 && l.cfg.Concurrent <= 0) {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.keyLocked(k)
	if l.cfg.Concurrent > 0 && e.active >= l.cfg.Concurrent {
		return false
	}
	if e.rate != nil && !e.rate.Allow() {
		return false
	}
	e.active++
	return true
}

func (l *limiter) release(k string) {
	if l == nil || (l.cfg.FlowsPerSecond <= 0 && l.cfg.Concurrent <= 0) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.keys[k]; e != nil {
		e.active--
		if e.active <= 0 && (e.rate == nil || e.rate.Tokens() >= float64(e.rate.Burst())) {
			delete(l.keys, k)
		}
	}
}

// limits are the per-user and per-device limiters of one configuration.
type limits struct {
	user, device *limiter
}

func newLimits(c RateLimitConfig) *limits {
	return &limits{user: newLimiter(c.PerUser), device: newLimiter(c.PerDevice)}
}

func (ls *limits) acquire(id Identity) bool {
	if !ls.user.acquire(id.Subject.ID) {
		return false
	}
	if !ls.device.acquire(id.Device.ID) {
		ls.user.release(id.Subject.ID)
		return false
	}
	return true
}

func (ls *limits) release(id Identity) {
	ls.user.release(id.Subject.ID)
	ls.device.release(id.Device.ID)
}

func (ls *limits) allowRequest(id Identity) bool {
	return ls.user.allow(id.Subject.ID) && ls.device.allow(id.Device.ID)
}

// bandwidth returns the per-flow byte rate limiter, or nil.
func (ls *limits) bandwidth() *rate.Limiter {
	bps := ls.user.cfg.BytesPerSecond
	if d := ls.device.cfg.BytesPerSecond; d > 0 && (bps == 0 || d < bps) {
		bps = d
	}
	if bps <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(bps), int(max(bps, 64<<10)))
}

// throttledWriter waits for the limiter before each write.
type throttledWriter struct {
	ctx context.Context
	w   io.Writer
	l   *rate.Limiter
}

func (t throttledWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		chunk := min(len(p), t.l.Burst())
		if err := t.l.WaitN(t.ctx, chunk); err != nil {
			return n, err
		}
		m, err := t.w.Write(p[:chunk])
		n += m
		if err != nil {
			return n, err
		}
		p = p[chunk:]
	}
	return n, nil
}

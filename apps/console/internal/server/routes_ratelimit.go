package server

import (
	"context"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// The REST API is rate-limited per API key, per user and per client
// address, at the limits each tenant sets (domain/ratelimit.go): every
// API request spends from each bucket that applies to it, and is refused
// with 429 when any of them is empty. The pages and the gateways'
// control plane are not limited here (the pages' policy checks are, in
// routes_limits.go).
//
// The buckets are this replica's own. When replicas share the store,
// each enforces the tenant's limit divided by the number of live
// replicas (domain.Service.Replicas, re-counted every
// replicaCountEvery), so that a client spread evenly over them gets the
// configured rate in all; one that reaches only one replica gets that
// replica's share.

// The settings of a tenant's API rate limits, each "requests/period"
// such as "600/1m", or "off" (see domain.ParseRateLimit); unset, the
// defaults are 600 a minute per API key, 600 per user and 1200 per
// client address.
const (
	SettingAPIRateKey     = domain.SettingAPIRateKey
	SettingAPIRateUser    = domain.SettingAPIRateUser
	SettingAPIRateAddress = domain.SettingAPIRateAddress
)

const (
	// limitsTTL is how long a tenant's limits, and the trusted_proxies
	// setting the client address depends on, are used before they are
	// read again: a changed setting takes effect within it on every
	// replica, and the store is not read on every request.
	limitsTTL = 5 * time.Second
	// replicaCountEvery is how often the live replicas are counted.
	replicaCountEvery = 15 * time.Second
)

// apiLimiter is the state of the REST API's rate limits.
type apiLimiter struct {
	buckets *throttle
	// replicas is how many consoles serve the store, at least 1.
	replicas atomic.Int64

	mu      sync.Mutex                              // guards limits and proxies
	limits  map[string]cached[domain.APIRateLimits] // by tenant
	proxies cached[[]netip.Prefix]
}

// cached is a value read from the store at a time.
type cached[T any] struct {
	v    T
	read time.Time
}

// fresh reports whether c was read less than limitsTTL before now (and
// not after it: a clock set back makes it stale).
func (c cached[T]) fresh(now time.Time) bool {
	return !c.read.IsZero() && !now.Before(c.read) && now.Sub(c.read) < limitsTTL
}

func newAPILimiter() *apiLimiter {
	l := &apiLimiter{buckets: newThrottle(1, time.Second), limits: map[string]cached[domain.APIRateLimits]{}}
	l.replicas.Store(1)
	return l
}

// apiLimits are p's tenant's limits, read at most every limitsTTL.
func (s *Server) apiLimits(r *http.Request, p *principal, now time.Time) domain.APIRateLimits {
	s.api.mu.Lock()
	c := s.api.limits[p.tenant]
	s.api.mu.Unlock()
	if c.fresh(now) {
		return c.v
	}
	// Read without the lock: concurrent requests may read twice, but
	// none waits for another tenant's store.
	c = cached[domain.APIRateLimits]{v: p.dom.APIRateLimits(r.Context()), read: now}
	s.api.mu.Lock()
	s.api.limits[p.tenant] = c
	s.api.mu.Unlock()
	return c.v
}

// apiClientSource is clientSource with the trusted_proxies setting read
// at most every limitsTTL.
func (s *Server) apiClientSource(r *http.Request, now time.Time) string {
	s.api.mu.Lock()
	c := s.api.proxies
	s.api.mu.Unlock()
	if !c.fresh(now) {
		c = cached[[]netip.Prefix]{v: s.trustedProxies(r), read: now}
		s.api.mu.Lock()
		s.api.proxies = c
		s.api.mu.Unlock()
	}
	return sourceKey(clientAddr(r, c.v))
}

// An apiBucket is one of the limits a request is checked against.
type apiBucket struct {
	bucket
	policy string // the RateLimit-Policy name: "key", "user", "address"
	per    string // how a refusal names it: "per API key"
	window int    // the period, in seconds
}

// limitAPI spends one request of p's API key, p's user (signed in or
// owning the key) and the client's address, at p's tenant's limits
// divided among the replicas. It reports the most restrictive of them in
// RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers:
// q requests per w seconds; r left, t seconds until the bucket is full
// again), and when one is empty answers 429 with Retry-After and reports
// false.
func (s *Server) limitAPI(w http.ResponseWriter, r *http.Request, p *principal) bool {
	now := s.now()
	limits := s.apiLimits(r, p, now)
	replicas := int(s.api.replicas.Load())
	bs := make([]*apiBucket, 0, 3)
	add := func(policy, per, kind, id string, l domain.RateLimit) {
		if l.Off() {
			return
		}
		q := max(l.N/replicas, 1)
		bs = append(bs, &apiBucket{
			bucket: bucket{key: p.stateKey(kind, id), burst: q, interval: l.Per / time.Duration(q)},
			policy: policy, per: per, window: int(l.Per / time.Second),
		})
	}
	if p.apiKey != nil {
		add("key", "per API key", "apikey", p.apiKey.ID, limits.Key)
	}
	switch {
	case p.user != nil:
		add("user", "per user", "user", p.user.ID, limits.User)
	case p.apiKey != nil && p.apiKey.Owner != "":
		add("user", "per user", "user", p.apiKey.Owner, limits.User)
	}
	add("address", "per address", "address", s.apiClientSource(r, now), limits.Address)
	if len(bs) == 0 {
		return true
	}
	take := make([]*bucket, len(bs))
	for i, b := range bs {
		take[i] = &b.bucket
	}
	ok := s.api.buckets.take(now, take)
	b := mostRestrictive(bs)
	h := w.Header()
	q := strconv.Quote(b.policy)
	h.Set("RateLimit-Policy", q+";q="+strconv.Itoa(b.burst)+";w="+strconv.Itoa(b.window))
	h.Set("RateLimit", q+";r="+strconv.Itoa(b.remaining)+";t="+strconv.FormatInt(ceilSeconds(b.full), 10))
	if ok {
		return true
	}
	retry := max(ceilSeconds(b.wait), 1)
	h.Set("Retry-After", strconv.FormatInt(retry, 10))
	writeError(w, http.StatusTooManyRequests, "rate_limited", "too many requests %s; retry in %s", b.per, time.Duration(retry)*time.Second)
	return false
}

// mostRestrictive is the bucket to report: of the refusing ones, the
// one that refuses longest; else the one with the fewest requests left,
// and of those the slowest to refill.
func mostRestrictive(bs []*apiBucket) *apiBucket {
	best := bs[0]
	for _, b := range bs[1:] {
		switch {
		case b.refused != best.refused:
			if b.refused {
				best = b
			}
		case b.refused:
			if b.wait > best.wait {
				best = b
			}
		case b.remaining < best.remaining || (b.remaining == best.remaining && b.full > best.full):
			best = b
		}
	}
	return best
}

func ceilSeconds(d time.Duration) int64 { return int64(math.Ceil(d.Seconds())) }

// countReplicas keeps the count of live replicas, once this one listens
// to the others, until the server closes.
func (s *Server) countReplicas() {
	defer s.wg.Done()
	select {
	case <-s.listening:
	case <-s.stop:
		return
	}
	tick := time.NewTicker(replicaCountEvery)
	defer tick.Stop()
	for {
		s.recountReplicas()
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
	}
}

// recountReplicas counts the live replicas now.
func (s *Server) recountReplicas() {
	ctx, cancel := context.WithTimeout(s.bg, 5*time.Second)
	defer cancel()
	s.api.replicas.Store(int64(s.plat.Default().Replicas(ctx)))
}

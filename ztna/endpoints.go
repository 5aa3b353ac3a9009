package ztna

import (
	"net/netip"
	"sync"
	"time"

	"github.com/gonaut/gonaut/tunnel"
)

// endpointCache remembers peers' outer endpoints, so that a flow does not
// list all peers (which the tunnel answers by formatting the whole device
// state). A peer missing from the cache, or a cache older than
// endpointMaxAge, makes the flow wait for a fresh listing: a peer's first
// flows are located like the others, never let through unlocated.
type endpointCache struct {
	refresh sync.Mutex // serialises listings; waiters reuse the one before them

	mu sync.Mutex
	// guarded by mu
	at time.Time
	m  map[tunnel.Key]netip.AddrPort
}

// endpointMaxAge bounds how stale a roaming peer's outer address may be.
const endpointMaxAge = 5 * time.Second

// lookup returns k's cached endpoint, when the cache was listed, and
// whether k is in it.
func (c *endpointCache) lookup(k tunnel.Key) (netip.AddrPort, time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ep, ok := c.m[k]
	return ep, c.at, ok
}

func (g *Gateway) endpoint(k tunnel.Key) netip.AddrPort {
	c := &g.endpoints
	asked := time.Now()
	ep, at, ok := c.lookup(k)
	switch {
	case ok && asked.Sub(at) < endpointMaxAge:
		return ep
	case ok:
		// Stale: this flow lists the peers again unless another one is
		// already doing so, in which case the old address will do.
		if !c.refresh.TryLock() {
			return ep
		}
	default:
		c.refresh.Lock()
		// A listing that started after this flow arrived knows its
		// peer, whose handshake came before the flow.
		if ep, at, ok := c.lookup(k); ok || at.After(asked) {
			c.refresh.Unlock()
			return ep
		}
	}
	defer c.refresh.Unlock()
	m := make(map[tunnel.Key]netip.AddrPort)
	now := time.Now()
	for _, p := range g.tun.Peers() {
		if p.Endpoint.IsValid() {
			m[p.PublicKey] = p.Endpoint
		}
	}
	c.mu.Lock()
	c.m, c.at = m, now
	c.mu.Unlock()
	return m[k]
}

package tunnel

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/blake2s"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/curve25519"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
)

// Lazy peers. wireguard-go gives every configured peer its own queues and
// goroutines, about 28 KiB even when idle, so 10,000 peers cost hundreds of
// megabytes. Unless Options.EagerPeers is set, the tunnel keeps every peer
// in its own configuration but loads into wireguard-go only the peers in
// use:
//
//   - outbound, when the netstack sends a packet to an address in the
//     AllowedIPs of a peer that is not loaded (link.Read calls
//     t.loadForDestination before wireguard-go routes the packet);
//   - inbound, when a handshake initiation arrives from a configured peer
//     that is not loaded: the bind decrypts the initiator's static key
//     (the first steps of Noise IK, as wireguard-go does) and loads the
//     peer before wireguard-go processes the message;
//   - always, for peers with a persistent keepalive.
//
// A loaded peer without handshake for lazyIdle is unloaded again; its last
// endpoint is remembered, so a roaming peer is still found, and its
// counters and last handshake are kept and added to those of its next load.

const (
	lazyIdle          = 5 * time.Minute
	lazyCheckInterval = time.Minute
	initiationSize    = 148
)

// lazyState is the bookkeeping of lazy peers; apart from gen and id, its
// fields are guarded by Tunnel.mu.
type lazyState struct {
	gen atomic.Uint64            // bumped on unload; invalidates the link's cache
	id  atomic.Pointer[identity] // our keys, read by the bind's receive goroutines

	loaded   map[Key]time.Time      // loaded peers and when they were loaded
	lastSeen map[Key]netip.AddrPort // endpoints of unloaded peers: last seen, or configured and resolved
	retired  map[Key]peerStats      // statistics of earlier loads
}

// identity is the tunnel's key pair.
type identity struct{ priv, pub Key }

// peerStats are the statistics of a peer's earlier loads.
type peerStats struct {
	rx, tx        uint64
	lastHandshake time.Time
}

func (l *lazyState) setIdentity(priv Key) {
	l.id.Store(&identity{priv: priv, pub: priv.PublicKey()})
}

func (t *Tunnel) lazyEnabled() bool { return t.lazy != nil }

// initialPeers returns the peers to load at start. It resolves the
// endpoints of the others now, as WireGuard would, so that loading them
// later does not resolve a host name on a packet path.
func (t *Tunnel) initialPeers(ctx context.Context, cfg *Config) ([]PeerConfig, error) {
	if !t.lazyEnabled() {
		return cfg.Peers, nil
	}
	var ps []PeerConfig
	for _, p := range cfg.Peers {
		if p.PersistentKeepalive > 0 {
			ps = append(ps, p)
			t.lazy.loaded[p.PublicKey] = time.Now()
			continue
		}
		if p.Endpoint == "" {
			continue
		}
		ep, err := resolveEndpoint(ctx, p.Endpoint)
		if err != nil {
			return nil, err
		}
		t.lazy.lastSeen[p.PublicKey] = ep
	}
	return ps, nil
}

// loadKey loads the configured peer key if it is not loaded. It is called
// from the packet paths, and does nothing while the device rebinds or
// closes (see Tunnel.rebindMu).
func (t *Tunnel) loadKey(key Key) {
	if !t.rebindMu.TryRLock() {
		return
	}
	defer t.rebindMu.RUnlock()
	t.cfgMu.Lock()
	defer t.cfgMu.Unlock()
	t.mu.Lock()
	_, loaded := t.lazy.loaded[key]
	i := slices.IndexFunc(t.cfg.Peers, func(q PeerConfig) bool { return q.PublicKey == key })
	if t.closed || loaded || i < 0 {
		t.mu.Unlock()
		return
	}
	p := t.cfg.Peers[i].clone()
	if ep, ok := t.lazy.lastSeen[key]; ok {
		p.Endpoint = ep.String()
	}
	t.mu.Unlock()
	// Not under mu (see Tunnel.cfgMu); cfgMu keeps the peer from being
	// changed or removed meanwhile.
	var b strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := peerConfig(ctx, &b, &p)
	if err == nil {
		err = t.dev.IpcSet(b.String())
	}
	if err != nil {
		t.log.Warn("load peer", "peer", key.String(), "err", err)
		return
	}
	t.mu.Lock()
	t.lazy.loaded[key] = time.Now()
	t.mu.Unlock()
}

// loadForDestination loads the peer that routes dst, if any.
func (t *Tunnel) loadForDestination(dst netip.Addr) {
	t.mu.Lock()
	key, ok := t.table.lookup(dst)
	_, loaded := t.lazy.loaded[key]
	t.mu.Unlock()
	if ok && !loaded {
		t.loadKey(key)
	}
}

// initiatorKey returns the static public key of the initiator of a
// handshake initiation message addressed to us, or false.
func (l *lazyState) initiatorKey(msg []byte) (Key, bool) {
	if len(msg) != initiationSize || msg[0] != 1 {
		return Key{}, false
	}
	id := l.id.Load()
	ephemeral := msg[8:40]
	static := msg[40:88]
	var hash, chainKey [blake2s.Size]byte
	mixHash(&hash, &device.InitialHash, id.pub[:])
	mixHash(&hash, &hash, ephemeral)
	device.KDF1(&chainKey, device.InitialChainKey[:], ephemeral)
	ss, err := curve25519.X25519(id.priv[:], ephemeral)
	if err != nil {
		return Key{}, false
	}
	var key [chacha20poly1305.KeySize]byte
	device.KDF2(&chainKey, &key, chainKey[:], ss)
	aead, _ := chacha20poly1305.New(key[:])
	var pk Key
	if _, err := aead.Open(pk[:0], make([]byte, chacha20poly1305.NonceSize), static, hash[:]); err != nil {
		return Key{}, false
	}
	return pk, true
}

func mixHash(dst, h *[blake2s.Size]byte, data []byte) {
	hh, _ := blake2s.New256(nil)
	hh.Write(h[:])
	hh.Write(data)
	hh.Sum(dst[:0])
}

// lazyBind wraps the UDP bind to load a peer when its handshake
// initiation arrives.
type lazyBind struct {
	conn.Bind
	t *Tunnel
}

func (b *lazyBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	fns, p, err := b.Bind.Open(port)
	if err != nil {
		return nil, 0, err
	}
	for i, fn := range fns {
		fns[i] = func(bufs [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
			n, err := fn(bufs, sizes, eps)
			for j := 0; j < n; j++ {
				if sizes[j] == initiationSize && bufs[j][0] == 1 {
					if key, ok := b.t.lazy.initiatorKey(bufs[j][:initiationSize]); ok {
						b.t.loadKey(key)
					}
				}
			}
			return n, err
		}
	}
	return fns, p, nil
}

// evictLoop unloads peers idle for lazyIdle, until the tunnel closes.
func (t *Tunnel) evictLoop(interval time.Duration) {
	defer t.wg.Done()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-t.flowCtx.Done():
			return
		case <-tick.C:
			t.evictIdle(time.Now().Add(-lazyIdle))
		}
	}
}

// evictIdle unloads peers loaded before cutoff whose last handshake is
// also before cutoff, except peers with a persistent keepalive.
func (t *Tunnel) evictIdle(cutoff time.Time) {
	t.cfgMu.Lock()
	defer t.cfgMu.Unlock()
	status := make(map[Key]PeerStatus)
	for _, s := range t.devicePeers() {
		status[s.PublicKey] = s
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	keep := make(map[Key]bool)
	for _, p := range t.cfg.Peers {
		if p.PersistentKeepalive > 0 {
			keep[p.PublicKey] = true
		}
	}
	var evict []Key
	for key, at := range t.lazy.loaded {
		s := status[key]
		if keep[key] || at.After(cutoff) || s.LastHandshake.After(cutoff) {
			continue
		}
		t.lazy.retire(key, s)
		delete(t.lazy.loaded, key)
		evict = append(evict, key)
	}
	if len(evict) > 0 {
		t.lazy.gen.Add(1)
	}
	t.mu.Unlock()
	// Not under mu (see Tunnel.cfgMu). A packet for an evicted peer that
	// comes before its removal loads nothing (loadKey waits for cfgMu);
	// one that comes after loads it again.
	for _, key := range evict {
		if err := t.dev.IpcSet(fmt.Sprintf("public_key=%s\nremove=true\n", key.hex())); err != nil {
			t.log.Warn("unload peer", "peer", key.String(), "err", err)
		}
	}
}

// retire keeps the statistics and endpoint of a peer that is being
// removed from wireguard-go, for its next load. Must hold Tunnel.mu.
func (l *lazyState) retire(key Key, s PeerStatus) {
	if s.Endpoint.IsValid() {
		l.lastSeen[key] = s.Endpoint
	}
	l.retired[key] = l.retired[key].add(s)
}

// add returns r with the statistics of s added.
func (r peerStats) add(s PeerStatus) peerStats {
	r.rx += s.RxBytes
	r.tx += s.TxBytes
	if s.LastHandshake.After(r.lastHandshake) {
		r.lastHandshake = s.LastHandshake
	}
	return r
}

// mergeUnloaded adds the statistics of earlier loads to the device's
// peer status, and the configured peers that are not loaded.
func (t *Tunnel) mergeUnloaded(ps []PeerStatus) []PeerStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range ps {
		r, ok := t.lazy.retired[ps[i].PublicKey]
		if !ok {
			continue
		}
		ps[i].RxBytes += r.rx
		ps[i].TxBytes += r.tx
		if ps[i].LastHandshake.IsZero() {
			ps[i].LastHandshake = r.lastHandshake
		}
	}
	for _, p := range t.cfg.Peers {
		if _, ok := t.lazy.loaded[p.PublicKey]; ok {
			continue
		}
		r := t.lazy.retired[p.PublicKey]
		s := PeerStatus{
			PublicKey:           p.PublicKey,
			AllowedIPs:          append([]netip.Prefix(nil), p.AllowedIPs...),
			PersistentKeepalive: p.PersistentKeepalive,
			RxBytes:             r.rx,
			TxBytes:             r.tx,
			LastHandshake:       r.lastHandshake,
		}
		if ep, ok := t.lazy.lastSeen[p.PublicKey]; ok {
			s.Endpoint = ep
		} else if ep, err := netip.ParseAddrPort(p.Endpoint); err == nil {
			s.Endpoint = ep
		}
		ps = append(ps, s)
	}
	return ps
}

// checkDestination is the link's hook on outbound packets: it loads the
// peer for the packet's destination. It runs on wireguard-go's single TUN
// reader goroutine, and remembers the last destination so that a stream of
// packets costs one comparison each.
type destCache struct {
	t    *Tunnel
	last netip.Addr
	gen  uint64
}

func (c *destCache) check(pkt []byte) {
	var dst netip.Addr
	switch {
	case len(pkt) >= 20 && pkt[0]>>4 == 4:
		dst = netip.AddrFrom4([4]byte(pkt[16:20]))
	case len(pkt) >= 40 && pkt[0]>>4 == 6:
		dst = netip.AddrFrom16([16]byte(pkt[24:40]))
	default:
		return
	}
	gen := c.t.lazy.gen.Load()
	if dst == c.last && gen == c.gen {
		return
	}
	c.t.loadForDestination(dst)
	c.last, c.gen = dst, gen
}

// loadedPeer reports whether key is loaded; a nil lazyState has every
// peer loaded. Must hold Tunnel.mu.
func (l *lazyState) loadedPeer(key Key) (time.Time, bool) {
	if l == nil {
		return time.Time{}, true
	}
	at, ok := l.loaded[key]
	return at, ok
}

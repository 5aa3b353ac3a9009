package tunnel

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PeerStatus is a peer's configuration and live statistics.
type PeerStatus struct {
	PublicKey Key

	// Endpoint is the peer's current UDP address: the configured one, or
	// the last address an authenticated packet came from (WireGuard
	// follows a roaming peer). Invalid when not yet known.
	Endpoint netip.AddrPort

	// LastHandshake is the time of the last completed handshake; zero if
	// none yet.
	LastHandshake time.Time

	// RxBytes and TxBytes count WireGuard transport bytes received from
	// and sent to the peer.
	RxBytes, TxBytes uint64

	AllowedIPs          []netip.Prefix
	PersistentKeepalive time.Duration
}

// SetPeer adds a peer or, if its public key is already configured, updates
// it in place (endpoint, preshared key, keepalive, and AllowedIPs, which are
// replaced). Traffic to other peers is not interrupted, and an established
// session with this peer survives an update that keeps its allowed IPs or
// adds to them. An update that removes any of them restarts the peer in
// WireGuard (its session is renegotiated on the next packet; counters and
// the roaming endpoint are kept), so that a packet it authenticated with
// the old prefixes is delivered, and its flow named, before another peer
// can be given them (see flowpeer.go). ctx bounds the resolution of an
// endpoint host name. As in WireGuard, an allowed IP prefix belongs to one
// peer: SetPeer refuses allowed IPs that overlap another peer's (equal,
// inside or around them) with an error naming both, rather than moving
// them as wg(8) does, so that WhoIs and Flow.Peer always name the peer
// whose key authenticated a packet (see checkOverlaps). To move a prefix,
// take it from its peer first (SetPeer without it, or RemovePeer), or use
// SetPeers.
func (t *Tunnel) SetPeer(ctx context.Context, p PeerConfig) error {
	if err := p.validate(); err != nil {
		return err
	}
	p = p.clone()
	var b strings.Builder
	ep, err := peerConfig(ctx, &b, &p)
	if err != nil {
		return err
	}
	// Device changes happen under cfgMu but not mu: wireguard-go may wait
	// for its goroutines, which take mu (flow interception, lazy loads).
	t.cfgMu.Lock()
	defer t.cfgMu.Unlock()
	return t.setPeerLocked(p, b.String(), ep)
}

// setPeerLocked applies p, validated, cloned and rendered for wireguard-go
// as uapi with its endpoint ep resolved. Must hold cfgMu, not mu.
func (t *Tunnel) setPeerLocked(p PeerConfig, uapi string, ep netip.AddrPort) error {
	return t.applyPeerLocked(p, uapi, ep, true)
}

// applyPeerLocked is setPeerLocked; with check unset the caller has made
// sure that p's allowed IPs overlap no other peer's. Must hold cfgMu, not
// mu.
func (t *Tunnel) applyPeerLocked(p PeerConfig, uapi string, ep netip.AddrPort, check bool) error {
	var b strings.Builder
	b.WriteString(uapi)
	t.mu.Lock()
	closed := t.closed
	_, loaded := t.lazy.loadedPeer(p.PublicKey)
	t.mu.Unlock()
	if closed {
		return ErrClosed
	}
	// cfgMu keeps the other peers from changing until p is applied.
	if check {
		t.mu.Lock()
		err := checkOverlaps(replacePeer(t.cfg.Peers, p))
		t.mu.Unlock()
		if err != nil {
			return err
		}
	}
	t.mu.Lock()
	var old []netip.Prefix
	if i := slices.IndexFunc(t.cfg.Peers, func(q PeerConfig) bool { return q.PublicKey == p.PublicKey }); i >= 0 {
		old = t.cfg.Peers[i].AllowedIPs
	}
	t.mu.Unlock()
	// A peer that loses prefixes is stopped in wireguard-go before it is
	// configured again (see flowpeer.go): a packet it authenticated with
	// them must be delivered before another peer can be given them.
	restarted := false
	if lost := lostPrefixes(old, p.AllowedIPs); len(lost) > 0 {
		seen, err := t.revokePrefixes(p.PublicKey, lost)
		if err != nil {
			t.mu.Lock()
			t.table.setPeer(p.PublicKey, nil, lost) // wireguard-go may still have them
			t.mu.Unlock()
			return err
		}
		if p.Endpoint == "" && seen.IsValid() {
			fmt.Fprintf(&b, "endpoint=%s\n", seen)
			ep = seen
		}
		restarted = loaded
	}
	load := t.lazy == nil || loaded || p.PersistentKeepalive > 0
	if load {
		if err := t.dev.IpcSet(b.String()); err != nil {
			return fmt.Errorf("tunnel: set peer %v: %w", p.PublicKey, err)
		}
		if restarted && ep.IsValid() {
			t.kickHandshake(p)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if load && t.lazy != nil {
		t.lazy.loaded[p.PublicKey] = time.Now()
	}
	if t.lazy != nil && ep.IsValid() {
		// A configured endpoint replaces the one last seen. It is kept
		// resolved, as WireGuard keeps it, so that loading the peer
		// later does not resolve a host name on a packet path.
		t.lazy.lastSeen[p.PublicKey] = ep
	}
	if i := slices.IndexFunc(t.cfg.Peers, func(q PeerConfig) bool { return q.PublicKey == p.PublicKey }); i >= 0 {
		t.cfg.Peers[i] = p
	} else {
		t.cfg.Peers = append(t.cfg.Peers, p)
	}
	// Granted after wireguard-go has them (see flowpeer.go); no losers,
	// since overlaps were refused.
	t.table.setPeer(p.PublicKey, old, p.AllowedIPs)
	return nil
}

// RemovePeer removes a peer. Its session keys are destroyed at once, so
// packets from and to it stop flowing; connections through it stall and
// time out, and flows a FlowHandler accepted from it are closed. It returns ErrUnknownPeer if no such peer is configured.
func (t *Tunnel) RemovePeer(key Key) error {
	t.cfgMu.Lock()
	defer t.cfgMu.Unlock()
	return t.removePeerLocked(key)
}

// removePeerLocked is RemovePeer. Must hold cfgMu, not mu.
func (t *Tunnel) removePeerLocked(key Key) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	i := slices.IndexFunc(t.cfg.Peers, func(q PeerConfig) bool { return q.PublicKey == key })
	if i < 0 {
		t.mu.Unlock()
		return fmt.Errorf("%w: %v", ErrUnknownPeer, key)
	}
	_, loaded := t.lazy.loadedPeer(key)
	if t.lazy != nil {
		delete(t.lazy.loaded, key)
		delete(t.lazy.lastSeen, key)
		delete(t.lazy.retired, key)
		t.lazy.gen.Add(1)
	}
	delete(t.restarted, key)
	// Out of the table before wireguard-go stops the peer, which waits
	// for the packets it authenticated (see flowpeer.go).
	t.table.setPeer(key, t.cfg.Peers[i].AllowedIPs, nil)
	cut := t.cutLeasesLocked(key, t.cfg.Peers[i].AllowedIPs)
	t.cfg.Peers = slices.Delete(t.cfg.Peers, i, i+1)
	t.mu.Unlock()
	closeAll(cut)
	// The tunnel no longer routes to the peer, so nothing loads it again
	// before wireguard-go has removed it. Removing a peer waits for its
	// goroutines, which may be delivering a packet that takes mu.
	if loaded {
		if err := t.dev.IpcSet(fmt.Sprintf("public_key=%s\nremove=true\n", key.hex())); err != nil {
			return fmt.Errorf("tunnel: remove peer %v: %w", key, err)
		}
	}
	return nil
}

// Peers returns the status of every configured peer, in no fixed order.
// Statistics cover the peer's whole life in the tunnel, across the loads
// and unloads of lazy loading (see Options.EagerPeers); a peer that has
// never been in use shows no handshake and zero counters.
func (t *Tunnel) Peers() []PeerStatus {
	ps := t.devicePeers()
	if t.lazy != nil {
		return t.mergeUnloaded(ps)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range ps {
		if r, ok := t.restarted[ps[i].PublicKey]; ok {
			ps[i].RxBytes += r.rx
			ps[i].TxBytes += r.tx
			if ps[i].LastHandshake.IsZero() {
				ps[i].LastHandshake = r.lastHandshake
			}
		}
	}
	return ps
}

// devicePeers returns the status of the peers loaded in wireguard-go.
func (t *Tunnel) devicePeers() []PeerStatus {
	s, err := t.dev.IpcGet()
	if err != nil {
		return nil
	}
	peers, _ := parsePeerStatus(s)
	return peers
}

// parsePeerStatus reads the peer part of a UAPI "get" answer.
func parsePeerStatus(s string) ([]PeerStatus, error) {
	var (
		out []PeerStatus
		cur *PeerStatus
		sec int64
	)
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		if k == "public_key" {
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != KeyLen {
				return nil, fmt.Errorf("tunnel: bad public_key in device status")
			}
			out = append(out, PeerStatus{})
			cur = &out[len(out)-1]
			copy(cur.PublicKey[:], b)
			continue
		}
		if cur == nil {
			continue
		}
		switch k {
		case "endpoint":
			cur.Endpoint, _ = netip.ParseAddrPort(v)
		case "last_handshake_time_sec":
			sec, _ = strconv.ParseInt(v, 10, 64)
		case "last_handshake_time_nsec":
			nsec, _ := strconv.ParseInt(v, 10, 64)
			if sec != 0 || nsec != 0 {
				cur.LastHandshake = time.Unix(sec, nsec)
			}
		case "rx_bytes":
			cur.RxBytes, _ = strconv.ParseUint(v, 10, 64)
		case "tx_bytes":
			cur.TxBytes, _ = strconv.ParseUint(v, 10, 64)
		case "persistent_keepalive_interval":
			n, _ := strconv.Atoi(v)
			cur.PersistentKeepalive = time.Duration(n) * time.Second
		case "allowed_ip":
			if p, err := netip.ParsePrefix(v); err == nil {
				cur.AllowedIPs = append(cur.AllowedIPs, p)
			}
		}
	}
	return out, nil
}

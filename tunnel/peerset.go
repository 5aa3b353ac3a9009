package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// SetPeers makes peers the tunnel's whole set of peers in one step, as a
// configuration bundle from a control plane does: configured peers not in
// peers are removed, the others added or updated as by SetPeer, and a peer
// whose configuration is unchanged is left alone (its session and roaming
// endpoint kept). The set is checked whole before anything changes: every
// peer must be valid, no key may appear twice, and no two peers' allowed
// IPs may overlap, with an error naming both. Unlike a sequence of SetPeer
// calls, SetPeers can move a prefix from one peer to another: every peer
// that loses prefixes gives them up first, as SetPeer does (see
// flowpeer.go), before any peer is given new ones, so a flow is named
// after the peer whose key authenticated it throughout. Other
// configuration changes wait until SetPeers returns. ctx bounds the
// resolution of endpoint host names. If wireguard-go refuses a change
// after the checks passed, SetPeers stops and returns the error; changes
// made until then stay.
func (t *Tunnel) SetPeers(ctx context.Context, peers []PeerConfig) error {
	final := make([]PeerConfig, 0, len(peers))
	seen := make(map[Key]bool, len(peers))
	for _, p := range peers {
		if err := p.validate(); err != nil {
			return err
		}
		if seen[p.PublicKey] {
			return fmt.Errorf("%w: duplicate peer %v", ErrInvalidConfig, p.PublicKey)
		}
		seen[p.PublicKey] = true
		final = append(final, p.clone())
	}
	if err := checkOverlaps(final); err != nil {
		return err
	}
	t.cfgMu.Lock()
	defer t.cfgMu.Unlock()
	cur := t.Config()
	apply := make(map[Key]bool)
	for _, p := range final {
		i := slices.IndexFunc(cur.Peers, func(q PeerConfig) bool { return q.PublicKey == p.PublicKey })
		if i < 0 || !samePeer(cur.Peers[i], p) {
			apply[p.PublicKey] = true
		}
	}
	return t.applyPeersLocked(ctx, final, apply)
}

// applyPeersLocked makes final, a valid set of peers whose allowed IPs do
// not overlap, the tunnel's peers: it removes the peers not in final,
// takes from every remaining peer the prefixes final does not give it,
// and then sets the peers in apply to their final configuration. At every
// step no two peers' prefixes overlap. Must hold cfgMu, not mu.
func (t *Tunnel) applyPeersLocked(ctx context.Context, final []PeerConfig, apply map[Key]bool) error {
	if err := t.checkOpen(); err != nil {
		return err
	}
	byKey := make(map[Key]PeerConfig, len(final))
	for _, p := range final {
		byKey[p.PublicKey] = p
	}
	cur := t.Config()
	for _, p := range cur.Peers {
		if _, kept := byKey[p.PublicKey]; !kept {
			if err := t.removePeerLocked(p.PublicKey); err != nil && !errors.Is(err, ErrUnknownPeer) {
				return err
			}
		}
	}
	for _, p := range cur.Peers {
		f, kept := byKey[p.PublicKey]
		if !kept || len(lostPrefixes(p.AllowedIPs, f.AllowedIPs)) == 0 {
			continue
		}
		// The peer's current configuration with only the prefixes it
		// keeps: this takes the others from it (and restarts it).
		p.AllowedIPs = slices.DeleteFunc(p.AllowedIPs, func(a netip.Prefix) bool {
			return len(lostPrefixes([]netip.Prefix{a}, f.AllowedIPs)) > 0
		})
		if err := t.renderAndApply(ctx, p); err != nil {
			return err
		}
	}
	for _, p := range final {
		if apply[p.PublicKey] {
			if err := t.renderAndApply(ctx, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// renderAndApply applies p without checking for overlaps, which the
// caller has excluded. Must hold cfgMu, not mu.
func (t *Tunnel) renderAndApply(ctx context.Context, p PeerConfig) error {
	var b strings.Builder
	ep, err := peerConfig(ctx, &b, &p)
	if err != nil {
		return err
	}
	return t.applyPeerLocked(p, b.String(), ep, false)
}

// samePeer reports whether a and b configure a peer identically.
func samePeer(a, b PeerConfig) bool {
	return a.PublicKey == b.PublicKey && a.PresharedKey == b.PresharedKey &&
		a.Endpoint == b.Endpoint && a.PersistentKeepalive == b.PersistentKeepalive &&
		slices.Equal(a.AllowedIPs, b.AllowedIPs)
}

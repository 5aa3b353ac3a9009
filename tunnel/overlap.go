package tunnel

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
)

// An allowed IP prefix belongs to at most one peer, and no peer's prefix
// lies inside another peer's. WireGuard's cryptokey routing accepts a
// packet from a peer only if its source is routed to that peer, and the
// tunnel names a flow's peer by the same longest-prefix match in its own
// table (see flowpeer.go for how the two are kept in step). With
// overlaps the two could disagree: wireguard-go moves a duplicated prefix
// to the last peer given it, and holds only the loaded peers (see
// Options.EagerPeers), so a peer with 10.0.0.0/24 would be accepted as
// the sender of 10.0.0.2 while the peer with 10.0.0.2/32 is unloaded, and
// the table would name the other one. Refusing overlaps at every entry
// point means any source address is in at most one peer's prefixes.

// checkOverlaps returns an error naming two peers whose allowed IPs
// overlap, or nil.
func checkOverlaps(peers []PeerConfig) error {
	type owned struct {
		p   netip.Prefix
		key Key
	}
	var all []owned
	for _, p := range peers {
		for _, a := range p.AllowedIPs {
			if a.IsValid() {
				all = append(all, owned{a.Masked(), p.PublicKey})
			}
		}
	}
	// CIDR prefixes are nested or disjoint. Sorted by first address and
	// then by length, a prefix overlaps an earlier one exactly when it
	// starts inside the earlier prefix that reaches furthest.
	slices.SortFunc(all, func(x, y owned) int {
		if c := x.p.Addr().Compare(y.p.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(x.p.Bits(), y.p.Bits())
	})
	var open owned
	for i, o := range all {
		if i > 0 && open.p.Overlaps(o.p) {
			if open.key != o.key {
				return fmt.Errorf("%w: allowed IPs %v of peer %v overlap %v of peer %v",
					ErrInvalidConfig, o.p, o.key, open.p, open.key)
			}
			continue // the same peer's own prefix inside another: harmless
		}
		open = o
	}
	return nil
}

// replacePeer returns peers with p in place of the peer of its key, or
// added at the end.
func replacePeer(peers []PeerConfig, p PeerConfig) []PeerConfig {
	out := slices.Clone(peers)
	if i := slices.IndexFunc(out, func(q PeerConfig) bool { return q.PublicKey == p.PublicKey }); i >= 0 {
		out[i] = p
		return out
	}
	return append(out, p)
}

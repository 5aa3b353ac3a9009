package tunnel

import "net/netip"

// prefixTable maps inner addresses to peers by longest-prefix match over
// the peers' AllowedIPs, as WireGuard's cryptokey routing does. A lookup
// tries each prefix length in use, longest first, with one map probe each,
// so it costs at most 33 (IPv4) or 129 (IPv6) probes whatever the number of
// peers. The zero value is empty. Callers hold Tunnel.mu.
type prefixTable struct {
	byPrefix map[netip.Prefix]Key
	lenCount [2][129]int // [0] IPv4, [1] IPv6: how many prefixes of each length
}

func family(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

// setPeer replaces the prefixes of key: old ones are removed, new ones
// added (taking them from any other peer that had them). It returns the
// keys of other peers that lost a prefix.
func (pt *prefixTable) setPeer(key Key, old, now []netip.Prefix) (losers map[Key][]netip.Prefix) {
	if pt.byPrefix == nil {
		pt.byPrefix = make(map[netip.Prefix]Key)
	}
	for _, p := range old {
		p = p.Masked()
		if k, ok := pt.byPrefix[p]; ok && k == key {
			delete(pt.byPrefix, p)
			pt.lenCount[family(p.Addr())][p.Bits()]--
		}
	}
	for _, p := range now {
		p = p.Masked()
		if k, ok := pt.byPrefix[p]; ok {
			if k == key {
				continue
			}
			if losers == nil {
				losers = make(map[Key][]netip.Prefix)
			}
			losers[k] = append(losers[k], p)
		} else {
			pt.lenCount[family(p.Addr())][p.Bits()]++
		}
		pt.byPrefix[p] = key
	}
	return losers
}

// lookup returns the peer whose AllowedIPs contain a.
func (pt *prefixTable) lookup(a netip.Addr) (Key, bool) {
	a = a.Unmap()
	if !a.IsValid() || len(pt.byPrefix) == 0 {
		return Key{}, false
	}
	f := family(a)
	for bits := a.BitLen(); bits >= 0; bits-- {
		if pt.lenCount[f][bits] == 0 {
			continue
		}
		p, _ := a.Prefix(bits)
		if k, ok := pt.byPrefix[p]; ok {
			return k, true
		}
	}
	return Key{}, false
}

// WhoIs returns the public key of the peer that an inner source address
// belongs to now: the peer whose AllowedIPs contain addr. WireGuard only
// accepts a packet from a peer if its source is in that peer's
// AllowedIPs, so while the configuration does not change the answer is
// the sender of traffic from addr. To know who sent a given flow, use
// Flow.Peer, which is fixed when the flow's first packet is delivered:
// WhoIs asked later may see a prefix that has moved since.
func (t *Tunnel) WhoIs(addr netip.Addr) (Key, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.table.lookup(addr)
}

package tunnel

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// Which peer a flow belongs to.
//
// wireguard-go authenticates an inbound packet in the sending peer's own
// receive goroutine: it decrypts it with that peer's session key, checks
// that the inner source is one of that peer's allowed IPs (its cryptokey
// routing table), and writes the packet to the link (link.Write), which
// hands it to the netstack before returning. It does not tell the link
// which peer that was, and this version of wireguard-go exposes no lookup
// in its table. So the tunnel keeps one table (Tunnel.table) that is
// written only together with wireguard-go's, under cfgMu, in an order that
// makes the two agree for every packet at the moment it reaches the
// netstack:
//
//   - a prefix is granted to a peer in wireguard-go first and in the
//     tunnel's table afterwards, so a packet the table attributes to a
//     peer was accepted while wireguard-go routed the source to it;
//   - a prefix is taken from a peer in the tunnel's table first; then the
//     peer is stopped in wireguard-go, which waits until its receive
//     goroutine has written every packet it had authenticated, and only
//     then is the peer loaded again without the prefix (revokePrefixes).
//     A packet authenticated under the old prefixes is therefore
//     delivered while the table names no peer for its source, never
//     after another peer has been given it.
//
// Overlapping prefixes are refused (checkOverlaps), so no two peers can
// hold a source at once in either table.
//
// A flow is attributed while its first packet is being delivered, inside
// link.Write: the UDP forwarder runs synchronously there, and for TCP,
// whose forwarder decides in a new goroutine, interceptTCP looks up the
// SYN's source before handing it on and keeps the answer for forwardTCP.
// Looking the source up later, when the handler goroutine runs, could
// see a table that has changed since the SYN was authenticated.

// flowPeer returns the peer the tunnel's table routes src to, as it
// stands now; called while src's packet is being delivered. The zero key
// if none.
func (t *Tunnel) flowPeer(id stack.TransportEndpointID) Key {
	t.mu.Lock()
	defer t.mu.Unlock()
	k, _ := t.table.lookup(addrFromTCPIP(id.RemoteAddress, 0).Addr())
	return k
}

// interceptTCP is the netstack's handler for TCP segments that match no
// endpoint. For a SYN it records the peer of its source before the
// forwarder starts forwardTCP in a goroutine. While a decision on id is
// pending, further SYNs of id are dropped, as the forwarder itself drops
// them, so the recorded peer is the one of the SYN being decided.
func (t *Tunnel) interceptTCP(fwd *tcp.Forwarder) func(stack.TransportEndpointID, *stack.PacketBuffer) bool {
	return func(id stack.TransportEndpointID, pkt *stack.PacketBuffer) bool {
		h := header.TCP(pkt.TransportHeader().Slice())
		if len(h) < header.TCPMinimumSize || h.Flags()&(header.TCPFlagSyn|header.TCPFlagAck) != header.TCPFlagSyn {
			return fwd.HandlePacket(id, pkt) // not a new connection
		}
		t.mu.Lock()
		if _, pending := t.synPeer[id]; pending || len(t.synPeer) >= maxPendingFlows || t.closed {
			t.mu.Unlock()
			return true // dropped; the peer retransmits
		}
		k, _ := t.table.lookup(addrFromTCPIP(id.RemoteAddress, 0).Addr())
		t.synPeer[id] = k
		t.mu.Unlock()
		if !fwd.HandlePacket(id, pkt) {
			t.synDone(id)
			return false
		}
		return true
	}
}

// takeSYNPeer returns the peer recorded for the SYN of id.
func (t *Tunnel) takeSYNPeer(id stack.TransportEndpointID) (Key, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k, ok := t.synPeer[id]
	return k, ok
}

// synDone forgets the SYN of id; called once the forwarder's request for
// it is completed, so that the next SYN of id is attributed afresh.
func (t *Tunnel) synDone(id stack.TransportEndpointID) {
	t.mu.Lock()
	delete(t.synPeer, id)
	t.mu.Unlock()
}

// revokePrefixes takes lost, prefixes that key holds, from it before its
// new configuration is applied, in the order described above: out of the
// tunnel's table, then the peer is stopped in wireguard-go, if loaded. It
// returns the endpoint the peer was last seen at (invalid if unknown), so
// that loading it again keeps following a roaming peer. Must hold cfgMu,
// not mu.
func (t *Tunnel) revokePrefixes(key Key, lost []netip.Prefix) (netip.AddrPort, error) {
	t.mu.Lock()
	t.table.setPeer(key, lost, nil)
	cut := t.cutLeasesLocked(key, lost)
	_, loaded := t.lazy.loadedPeer(key)
	t.mu.Unlock()
	closeAll(cut)
	if !loaded {
		// Not in wireguard-go, so nothing of it is in flight: unloading
		// stopped it as below.
		return netip.AddrPort{}, nil
	}
	var status PeerStatus
	for _, s := range t.devicePeers() {
		if s.PublicKey == key {
			status = s
		}
	}
	// Stopping the peer waits for its receive goroutine, so every packet
	// it authenticated with the old prefixes has been delivered, and its
	// flow attributed, when IpcSet returns.
	if err := t.dev.IpcSet(fmt.Sprintf("public_key=%s\nremove=true\n", key.hex())); err != nil {
		return netip.AddrPort{}, fmt.Errorf("tunnel: restart peer %v: %w", key, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.lazy != nil {
		t.lazy.retire(key, status)
		delete(t.lazy.loaded, key)
		t.lazy.gen.Add(1)
	} else {
		t.restarted[key] = t.restarted[key].add(status)
	}
	return status.Endpoint, nil
}

// lostPrefixes returns the prefixes of old that now does not keep.
func lostPrefixes(old, now []netip.Prefix) []netip.Prefix {
	var lost []netip.Prefix
	for _, p := range old {
		if !slices.ContainsFunc(now, func(q netip.Prefix) bool { return q.Masked() == p.Masked() }) {
			lost = append(lost, p)
		}
	}
	return lost
}

// kickHandshake makes wireguard-go start a handshake with p now, so that
// a peer restarted by revokePrefixes does not wait for its own timers
// (about 15 s) to notice that its session is gone. wireguard-go sends a
// keepalive, and so initiates a handshake, when a persistent keepalive is
// turned on; it is then set back to the configured one. Must hold cfgMu,
// not mu.
func (t *Tunnel) kickHandshake(p PeerConfig) {
	if p.PersistentKeepalive > 0 {
		return // turned on by the reload itself
	}
	on := fmt.Sprintf("public_key=%s\npersistent_keepalive_interval=25\n", p.PublicKey.hex())
	off := fmt.Sprintf("public_key=%s\npersistent_keepalive_interval=0\n", p.PublicKey.hex())
	if err := t.dev.IpcSet(on); err == nil {
		err = t.dev.IpcSet(off)
		if err != nil {
			t.log.Warn("restart peer: keepalive", "peer", p.PublicKey.String(), "err", err)
		}
	}
}

// A flowLease (nil for a Flow not started by the tunnel) ties an accepted flow to the peer it was named after, for
// as long as its handler runs. When a prefix holding the flow's source
// is taken from that peer, the flow is cut: its connection is closed, or
// Accept refuses it if it comes later, since further packets from the
// source would be authenticated by another key (or none) while the flow
// still carried the old peer's identity. Its fields are guarded by
// Tunnel.mu.
type flowLease struct {
	t    *Tunnel
	peer Key
	src  netip.Addr
	conn net.Conn // once accepted
	cut  bool
}

// begin registers the lease before the flow is accepted; false if the
// source no longer belongs to the peer.
func (l *flowLease) begin() bool {
	if l == nil {
		return true
	}
	t := l.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if k, _ := t.table.lookup(l.src); k != l.peer || l.cut {
		return false
	}
	t.leases[l] = struct{}{}
	return true
}

// attach records the accepted connection; false if the lease was cut
// meanwhile, and the caller must close c.
func (l *flowLease) attach(c net.Conn) bool {
	if l == nil {
		return true
	}
	l.t.mu.Lock()
	defer l.t.mu.Unlock()
	if l.cut {
		return false
	}
	l.conn = c
	return true
}

// end forgets the lease once the flow's handler has returned.
func (l *flowLease) end() {
	if l == nil {
		return
	}
	l.t.mu.Lock()
	delete(l.t.leases, l)
	l.t.mu.Unlock()
}

// cutLeasesLocked cuts the leases of key whose source is in one of lost
// and returns their connections, for the caller to close after releasing
// mu. Must hold mu.
func (t *Tunnel) cutLeasesLocked(key Key, lost []netip.Prefix) []net.Conn {
	var cs []net.Conn
	for l := range t.leases {
		if l.peer != key || !slices.ContainsFunc(lost, func(p netip.Prefix) bool { return p.Contains(l.src) }) {
			continue
		}
		l.cut = true
		delete(t.leases, l)
		if l.conn != nil {
			cs = append(cs, l.conn)
		}
	}
	return cs
}

func closeAll(cs []net.Conn) {
	for _, c := range cs {
		c.Close()
	}
}

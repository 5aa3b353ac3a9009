package tunnel

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"go.opentelemetry.io/otel/trace"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// maxPendingFlows bounds the TCP connection attempts, and separately the
// UDP flows, waiting for a FlowHandler decision; further SYNs and first
// datagrams are dropped (the peer retransmits).
const maxPendingFlows = 1024

// Protocol is the transport protocol of a Flow.
type Protocol string

// Protocols a Flow can have.
const (
	TCP Protocol = "tcp"
	UDP Protocol = "udp"
)

// A FlowHandler decides what happens to a new inbound flow. It is the hook
// a gateway uses to authorise every connection with a policy.
//
// The tunnel calls it in a new goroutine for every TCP connection attempt
// (a SYN) and every new UDP flow (the first datagram of a source and
// destination address and port pair) that arrives from a peer and is not
// claimed by a Listen or ListenPacket of the tunnel — to any destination
// address and port, not only the tunnel's own addresses. The handler calls
// exactly one of f.Accept or f.Refuse; returning without either refuses.
// ctx is cancelled when the tunnel closes.
//
// For TCP, nothing is answered to the peer before the decision: Refuse
// sends a TCP reset, Accept completes the three-way handshake (answering
// from the original destination address) and returns the connection. For
// UDP, Refuse drops the datagram (a later datagram of the same flow asks
// again), Accept returns a connected net.Conn whose Read returns one
// datagram at a time, starting with the first. Datagrams of a flow that
// arrive while the decision is pending are dropped.
//
// The handler owns an accepted net.Conn and must close it; a UDP flow has
// no end of its own, so the handler should close it after an idle timeout.
// The handler may block (e.g. while it dials an upstream and splices) for
// the lifetime of the flow; Close waits for it to return.
type FlowHandler func(ctx context.Context, f *Flow)

// A Flow is a new inbound TCP connection or UDP flow offered to a
// FlowHandler.
type Flow struct {
	// Protocol is TCP or UDP.
	Protocol Protocol

	// Peer is the public key of the WireGuard peer whose session key
	// authenticated the flow's first packet (the SYN, or the first
	// datagram); zero if none can be named, which a gateway must refuse.
	// wireguard-go accepts a packet only if its source is in the allowed
	// IPs of the peer whose key decrypted it. The tunnel names the peer
	// while that packet is being delivered, from the one table it keeps
	// in step with wireguard-go's: a prefix is given to a peer in
	// wireguard-go before the tunnel names that peer for it, and taken
	// from a peer by stopping the peer in wireguard-go, which waits for
	// every packet the peer had authenticated, before any other peer can
	// be given it. No two peers' allowed IPs overlap. So Peer is the key
	// that authenticated the packet even while a prefix moves between
	// peers (see flowpeer.go).
	Peer Key

	// Source is the peer-side address and port; Destination is the
	// address and port the peer wants to reach.
	Source, Destination netip.AddrPort

	s *flowState // shared by copies of the Flow
}

// flowState is the decision part of a Flow.
type flowState struct {
	span trace.Span
	tel  *telemetry

	mu      sync.Mutex
	decided bool // guarded by mu

	accept func() (net.Conn, error)
	refuse func()
	lease  *flowLease // set by startFlow
}

// Accept admits the flow and returns its connection: a *gonet.TCPConn or a
// *gonet.UDPConn, whose LocalAddr is Destination and RemoteAddr is Source.
// It returns ErrFlowDecided if the flow was already accepted or refused,
// and refuses the flow with ErrFlowMoved if its source has been taken
// from Peer since the flow arrived. The tunnel closes the connection if
// the source is taken from Peer while the handler runs (SetPeer without
// it, SetPeers, RemovePeer): from then on packets from that source would
// be authenticated by another key, or none.
func (f *Flow) Accept() (net.Conn, error) {
	s := f.s
	s.mu.Lock()
	if s.decided {
		s.mu.Unlock()
		return nil, ErrFlowDecided
	}
	s.decided = true
	s.mu.Unlock()
	if !s.lease.begin() {
		s.refuse()
		s.tel.decided(f, "refuse")
		return nil, fmt.Errorf("%w: %v: the source was taken from the peer", ErrFlowMoved, f)
	}
	c, err := s.accept()
	if err == nil && !s.lease.attach(c) {
		c.Close()
		c, err = nil, fmt.Errorf("%w: %v: the source was taken from the peer", ErrFlowMoved, f)
	}
	if err != nil {
		s.tel.decided(f, "error")
	} else {
		s.tel.decided(f, "accept")
	}
	return c, err
}

// Refuse rejects the flow: a TCP reset, or a dropped UDP datagram. It does
// nothing if the flow was already decided.
func (f *Flow) Refuse() {
	s := f.s
	s.mu.Lock()
	if s.decided {
		s.mu.Unlock()
		return
	}
	s.decided = true
	s.mu.Unlock()
	s.refuse()
	s.tel.decided(f, "refuse")
}

func (f *Flow) String() string {
	return fmt.Sprintf("%s %v -> %v (peer %v)", f.Protocol, f.Source, f.Destination, f.Peer)
}

// startFlow runs the handler for f in a goroutine owned by the tunnel. It
// returns false, without running anything, once the tunnel is closing.
// f.Peer is set by the caller, from the delivery of the flow's first
// packet.
func (t *Tunnel) startFlow(f *Flow) bool {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return false
	}
	f.s.tel = t.tel
	f.s.lease = &flowLease{t: t, peer: f.Peer, src: f.Source.Addr()}
	t.wg.Add(1)
	t.mu.Unlock()
	go func() {
		defer t.wg.Done()
		defer f.s.lease.end()
		ctx, span := t.tel.startFlow(t.flowCtx, f)
		f.s.span = span
		defer f.Refuse()
		t.flowHandler(ctx, f)
	}()
	return true
}

// forwardTCP is the netstack's TCP forwarder callback, in a goroutine of
// its own: a SYN for which no endpoint exists. Its peer was recorded by
// interceptTCP when the SYN was delivered.
func (t *Tunnel) forwardTCP(r *tcp.ForwarderRequest) {
	id := r.ID()
	peer, ok := t.takeSYNPeer(id)
	complete := func(reset bool) {
		r.Complete(reset)
		t.synDone(id)
	}
	if !ok {
		complete(true) // not delivered through interceptTCP: never guess
		return
	}
	f := &Flow{
		Protocol:    TCP,
		Peer:        peer,
		Source:      addrFromTCPIP(id.RemoteAddress, id.RemotePort),
		Destination: addrFromTCPIP(id.LocalAddress, id.LocalPort),
		s:           &flowState{},
	}
	f.s.accept = func() (net.Conn, error) {
		var wq waiter.Queue
		ep, err := r.CreateEndpoint(&wq)
		if err != nil {
			complete(true)
			return nil, fmt.Errorf("tunnel: accept %v: %v", f, err)
		}
		complete(false)
		return gonet.NewTCPConn(&wq, ep), nil
	}
	f.s.refuse = func() { complete(true) }
	if !t.startFlow(f) {
		complete(true)
	}
}

// forwardUDP is the netstack's UDP forwarder callback: a datagram for which
// no endpoint exists.
func (t *Tunnel) forwardUDP(r *udp.ForwarderRequest) {
	id := r.ID()
	if t.udpWaiting.Load() >= maxPendingFlows {
		return // as for TCP SYNs: drop while too many decisions are pending
	}
	if _, pending := t.udpPending.LoadOrStore(id, struct{}{}); pending {
		return
	}
	t.udpWaiting.Add(1)
	done := func() {
		t.udpPending.Delete(id)
		t.udpWaiting.Add(-1)
	}
	f := &Flow{
		Protocol:    UDP,
		Peer:        t.flowPeer(id), // the forwarder runs inside the datagram's delivery
		Source:      addrFromTCPIP(id.RemoteAddress, id.RemotePort),
		Destination: addrFromTCPIP(id.LocalAddress, id.LocalPort),
		s:           &flowState{},
	}
	f.s.accept = func() (net.Conn, error) {
		var wq waiter.Queue
		ep, err := r.CreateEndpoint(&wq)
		done()
		if err != nil {
			return nil, fmt.Errorf("tunnel: accept %v: %v", f, err)
		}
		return gonet.NewUDPConn(&wq, ep), nil
	}
	f.s.refuse = done
	if !t.startFlow(f) {
		done()
	}
}

package tunnel_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gonaut/gonaut/tunnel"
)

// newNodeAt starts a tunnel whose only address is addr. It is closed when
// the test ends.
func newNodeAt(tb testing.TB, addr netip.Addr, opts *tunnel.Options) *node {
	tb.Helper()
	n := &node{key: mustKey(tb), v4: addr}
	t, err := tunnel.New(context.Background(), tunnel.Config{
		PrivateKey: n.key,
		Addresses:  []netip.Prefix{netip.PrefixFrom(addr, 32)},
	}, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { t.Close() })
	n.Tunnel = t
	n.port = t.ListenPort()
	return n
}

// TestFlowPeerDuringMove has two peers, A and B, both send from the same
// inner address X while the gateway moves X between them (taken from A,
// given to B, taken from B, given back to A) as fast as it can. A opens
// TCP connections and UDP flows to port 1111, B to port 2222. Whatever
// the timing, a flow must never be named after the peer that did not
// send it: before the fix the tunnel looked the source up when the
// handler ran, after the move, and named a SYN that A's key had
// authenticated after B.
func TestFlowPeerDuringMove(t *testing.T) {
	for _, eager := range []bool{false, true} {
		t.Run(fmt.Sprintf("eager=%v", eager), func(t *testing.T) {
			testFlowPeerDuringMove(t, eager)
		})
	}
}

func testFlowPeerDuringMove(t *testing.T, eager bool) {
	var (
		ka, kb          atomic.Pointer[tunnel.Key]
		asA, asB, wrong atomic.Int64
		firstWrongMu    sync.Mutex
		firstWrong      string
	)
	gw := newNodeAt(t, netip.MustParseAddr("10.77.0.1"), &tunnel.Options{EagerPeers: eager, FlowHandler: func(ctx context.Context, f *tunnel.Flow) {
		sender := map[uint16]*tunnel.Key{1111: ka.Load(), 2222: kb.Load()}[f.Destination.Port()]
		switch {
		case f.Peer.IsZero():
		case sender != nil && f.Peer == *sender:
			if f.Destination.Port() == 1111 {
				asA.Add(1)
			} else {
				asB.Add(1)
			}
		default:
			if wrong.Add(1) == 1 {
				firstWrongMu.Lock()
				firstWrong = f.String()
				firstWrongMu.Unlock()
			}
		}
		if c, err := f.Accept(); err == nil {
			c.Close()
		}
	}})
	x := netip.MustParseAddr("10.77.0.50")
	a, b := newNodeAt(t, x, nil), newNodeAt(t, x, nil)
	ka.Store(new(a.PublicKey()))
	kb.Store(new(b.PublicKey()))
	ctx := testCtx(t, 2*time.Minute)
	for _, n := range []*node{a, b} {
		if err := n.SetPeer(ctx, tunnel.PeerConfig{PublicKey: gw.PublicKey(), Endpoint: gw.endpoint(), AllowedIPs: []netip.Prefix{netip.PrefixFrom(gw.v4, 32)}}); err != nil {
			t.Fatal(err)
		}
	}
	own := func(n *node, hasX bool, other string) tunnel.PeerConfig {
		p := tunnel.PeerConfig{PublicKey: n.PublicKey(), Endpoint: n.endpoint(), AllowedIPs: []netip.Prefix{netip.MustParsePrefix(other)}}
		if hasX {
			p.AllowedIPs = append(p.AllowedIPs, netip.PrefixFrom(x, 32))
		}
		return p
	}
	set := func(p tunnel.PeerConfig) {
		if err := gw.SetPeer(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	set(own(a, true, "10.77.1.1/32"))
	set(own(b, false, "10.77.2.1/32"))

	// Senders: new connections and flows, as fast as they go.
	sendCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, s := range []struct {
		n    *node
		port uint16
	}{{a, 1111}, {a, 1111}, {b, 2222}, {b, 2222}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := netip.AddrPortFrom(gw.v4, s.port).String()
			for sendCtx.Err() == nil {
				dctx, cancel := context.WithTimeout(sendCtx, 200*time.Millisecond)
				if c, err := s.n.Dial(dctx, "tcp", dst); err == nil {
					c.Close()
				}
				cancel()
				if c, err := s.n.Dial(sendCtx, "udp", dst); err == nil {
					c.Write([]byte("hello"))
					c.Close()
				}
			}
		}()
	}

	deadline := time.Now().Add(8 * time.Second)
	moves := 0
	for time.Now().Before(deadline) || asA.Load() == 0 || asB.Load() == 0 {
		if ctx.Err() != nil {
			break
		}
		set(own(a, false, "10.77.1.1/32"))
		set(own(b, true, "10.77.2.1/32"))
		time.Sleep(20 * time.Millisecond)
		set(own(b, false, "10.77.2.1/32"))
		set(own(a, true, "10.77.1.1/32"))
		time.Sleep(20 * time.Millisecond)
		moves += 2
	}
	stop()
	wg.Wait()
	t.Logf("%d moves; flows named A: %d, B: %d, wrong: %d", moves, asA.Load(), asB.Load(), wrong.Load())
	if wrong.Load() != 0 {
		t.Errorf("%d flows named after the peer that did not send them, first: %s", wrong.Load(), firstWrong)
	}
	if asA.Load() == 0 || asB.Load() == 0 {
		t.Error("the senders never got a flow through: the test proved nothing")
	}
}

// TestSetPeersMovesPrefix applies bundles that move an address between
// two connected peers in one call, while each keeps sending from it, and
// checks that every bundle applies and flows follow the address.
func TestSetPeersMovesPrefix(t *testing.T) {
	type seen struct {
		peer tunnel.Key
		port uint16
	}
	flows := make(chan seen, 1024)
	gw := newNodeAt(t, netip.MustParseAddr("10.77.0.1"), &tunnel.Options{FlowHandler: func(ctx context.Context, f *tunnel.Flow) {
		select {
		case flows <- seen{f.Peer, f.Destination.Port()}:
		default:
		}
		if c, err := f.Accept(); err == nil {
			c.Close()
		}
	}})
	x := netip.MustParseAddr("10.77.0.50")
	a, b := newNodeAt(t, x, nil), newNodeAt(t, x, nil)
	ctx := testCtx(t, time.Minute)
	for _, n := range []*node{a, b} {
		if err := n.SetPeer(ctx, tunnel.PeerConfig{PublicKey: gw.PublicKey(), Endpoint: gw.endpoint(), AllowedIPs: []netip.Prefix{netip.PrefixFrom(gw.v4, 32)}}); err != nil {
			t.Fatal(err)
		}
	}
	bundle := func(holder *node) []tunnel.PeerConfig {
		var ps []tunnel.PeerConfig
		for i, n := range []*node{a, b} {
			p := tunnel.PeerConfig{PublicKey: n.PublicKey(), Endpoint: n.endpoint(), AllowedIPs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 77, 1, byte(i)}), 32)}}
			if n == holder {
				p.AllowedIPs = append(p.AllowedIPs, netip.PrefixFrom(x, 32))
			}
			ps = append(ps, p)
		}
		return ps
	}
	for i, holder := range []*node{a, b, a} {
		if err := gw.SetPeers(ctx, bundle(holder)); err != nil {
			t.Fatalf("bundle %d: %v", i, err)
		}
		if k, _ := gw.WhoIs(x); k != holder.PublicKey() {
			t.Fatalf("bundle %d: WhoIs = %v, want %v", i, k, holder.PublicKey())
		}
		// The holder's flows arrive as its own; the other's are dropped.
		port := uint16(1000 + i)
		got := false
		for try := 0; try < 20 && !got; try++ {
			for _, n := range []*node{a, b} {
				if c, err := n.Dial(ctx, "udp", netip.AddrPortFrom(gw.v4, port).String()); err == nil {
					c.Write([]byte("hello"))
					c.Close()
				}
			}
			timeout := time.After(250 * time.Millisecond)
		drain:
			for {
				select {
				case f := <-flows:
					if f.port != port {
						continue
					}
					if f.peer != holder.PublicKey() {
						t.Fatalf("bundle %d: flow named %v, want the holder %v", i, f.peer, holder.PublicKey())
					}
					got = true
				case <-timeout:
					break drain
				}
			}
		}
		if !got {
			t.Fatalf("bundle %d: no flow from the holder arrived", i)
		}
	}
	if n := len(gw.Config().Peers); n != 2 {
		t.Errorf("peers after the bundles: %d, want 2", n)
	}
	if err := gw.SetPeers(ctx, bundle(a)[:1]); err != nil {
		t.Fatal(err)
	}
	if ps := gw.Config().Peers; len(ps) != 1 || ps[0].PublicKey != a.PublicKey() {
		t.Errorf("a bundle without b left %+v", ps)
	}
}

// TestFlowCutWhenSourceLeavesPeer takes a client's address from it at the
// gateway while one of its flows is open and another waits for its
// decision. Packets from that address could from then on come from
// whichever peer is given it next, under the old flow's identity, so the
// open flow is closed and the pending one cannot be accepted. Then the
// address comes back and the client, whose session the gateway
// restarted, gets through again at once.
func TestFlowCutWhenSourceLeavesPeer(t *testing.T) {
	type result struct {
		port uint16
		err  error
	}
	results := make(chan result, 4)
	proceed := make(chan struct{})
	gw := newNodeAt(t, netip.MustParseAddr("10.77.0.1"), &tunnel.Options{FlowHandler: func(ctx context.Context, f *tunnel.Flow) {
		port := f.Destination.Port()
		if port == 2 {
			<-proceed // decided only after the address has moved
		}
		c, err := f.Accept()
		if err != nil {
			results <- result{port, err}
			return
		}
		defer c.Close()
		_, err = io.Copy(c, c) // echo until the connection ends
		results <- result{port, err}
	}})
	x := netip.MustParseAddr("10.77.0.50")
	a := newNodeAt(t, x, nil)
	ctx := testCtx(t, time.Minute)
	if err := a.SetPeer(ctx, tunnel.PeerConfig{PublicKey: gw.PublicKey(), Endpoint: gw.endpoint(), AllowedIPs: []netip.Prefix{netip.PrefixFrom(gw.v4, 32)}}); err != nil {
		t.Fatal(err)
	}
	give := func(hasX bool) {
		p := tunnel.PeerConfig{PublicKey: a.PublicKey(), Endpoint: a.endpoint(), AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.77.1.1/32")}}
		if hasX {
			p.AllowedIPs = append(p.AllowedIPs, netip.PrefixFrom(x, 32))
		}
		if err := gw.SetPeer(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	echo := func(port uint16) net.Conn {
		t.Helper()
		c, err := a.Dial(testCtx(t, 10*time.Second), "tcp", netip.AddrPortFrom(gw.v4, port).String())
		if err != nil {
			t.Fatalf("dial port %d: %v", port, err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("echo on port %d: %q, %v", port, buf, err)
		}
		return c
	}
	give(true)
	echo(1)
	// A second connection whose SYN is delivered now and decided later.
	go func() {
		if c, err := a.Dial(testCtx(t, 10*time.Second), "tcp", netip.AddrPortFrom(gw.v4, 2).String()); err == nil {
			c.Close()
		}
	}()
	time.Sleep(500 * time.Millisecond) // the SYN reaches the handler

	give(false)
	close(proceed)
	want := map[uint16]bool{1: true, 2: true}
	for len(want) > 0 {
		select {
		case r := <-results:
			if r.port == 2 && !errors.Is(r.err, tunnel.ErrFlowMoved) {
				t.Errorf("pending flow decided after its address moved: Accept err = %v, want ErrFlowMoved", r.err)
			}
			delete(want, r.port)
		case <-time.After(5 * time.Second):
			t.Fatalf("flows still open 5 s after their address was taken from their peer: ports %v", want)
		}
	}

	give(true)
	echo(3)
}

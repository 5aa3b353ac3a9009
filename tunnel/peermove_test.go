package tunnel_test

import (
	"context"
	"fmt"
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

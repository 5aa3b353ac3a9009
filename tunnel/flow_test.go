package tunnel_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gonaut/gonaut/tunnel"
)

// gateway is a node with a FlowHandler, and a client routing 10.100.0.0/16
// and fd00:100::/64 to it.
type flowRig struct {
	gw, client *node
	flows      chan tunnel.Flow // copies of every flow the handler saw
}

func newFlowRig(t *testing.T, handle func(ctx context.Context, f *tunnel.Flow)) *flowRig {
	t.Helper()
	r := &flowRig{flows: make(chan tunnel.Flow, 100)}
	r.gw = newNode(t, 1, &tunnel.Options{FlowHandler: func(ctx context.Context, f *tunnel.Flow) {
		// A test that stops reading copies must not block handlers (and
		// with them Close, which waits for handlers after cancelling ctx).
		select {
		case r.flows <- tunnel.Flow{Protocol: f.Protocol, Peer: f.Peer, Source: f.Source, Destination: f.Destination}:
		case <-ctx.Done():
			return
		}
		handle(ctx, f)
	}})
	r.client = newNode(t, 2, nil)
	connect(t, r.client, r.gw, netip.MustParsePrefix("10.100.0.0/16"), netip.MustParsePrefix("fd00:100::/64"))
	return r
}

func (r *flowRig) next(t *testing.T) tunnel.Flow {
	t.Helper()
	select {
	case f := <-r.flows:
		return f
	case <-time.After(20 * time.Second):
		t.Fatal("no flow reached the handler")
		return tunnel.Flow{}
	}
}

// echoTCP echoes on an accepted connection until EOF.
func echoConn(c net.Conn) {
	defer c.Close()
	io.Copy(c, c)
}

func TestFlowInterceptTCP(t *testing.T) {
	r := newFlowRig(t, func(ctx context.Context, f *tunnel.Flow) {
		switch f.Destination.Port() {
		case 80:
			c, err := f.Accept()
			if err != nil {
				t.Errorf("accept: %v", err)
				return
			}
			if c.LocalAddr().String() != f.Destination.String() {
				t.Errorf("accepted conn local %v, want %v", c.LocalAddr(), f.Destination)
			}
			if _, err := f.Accept(); !errors.Is(err, tunnel.ErrFlowDecided) {
				t.Errorf("second Accept: %v", err)
			}
			echoConn(c)
		case 81:
			f.Refuse()
		case 82:
			// return without deciding: refused
		}
	})
	for _, dst := range []string{"10.100.0.5", "10.100.200.1", "fd00:100::5"} {
		ip := netip.MustParseAddr(dst)
		src := r.client.v4
		if ip.Is6() {
			src = r.client.v6
		}
		// Accepted: an echo through the handler's conn.
		c, err := r.client.Dial(testCtx(t, 20*time.Second), "tcp", netip.AddrPortFrom(ip, 80).String())
		if err != nil {
			t.Fatalf("dial %v:80: %v", dst, err)
		}
		f := r.next(t)
		if f.Protocol != tunnel.TCP || f.Peer != r.client.PublicKey() || f.Source.Addr() != src ||
			f.Destination != netip.AddrPortFrom(ip, 80) {
			t.Errorf("flow %+v", f)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		io.WriteString(c, "through the gateway")
		buf := make([]byte, len("through the gateway"))
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "through the gateway" {
			t.Fatalf("echo via %v: %q %v", dst, buf, err)
		}
		if c.RemoteAddr().String() != netip.AddrPortFrom(ip, 80).String() {
			t.Errorf("client sees remote %v", c.RemoteAddr())
		}
		c.Close()

		// Refused and undecided: the dialer sees a reset, at once.
		for _, port := range []uint16{81, 82} {
			start := time.Now()
			_, err := r.client.Dial(testCtx(t, 20*time.Second), "tcp", netip.AddrPortFrom(ip, port).String())
			if err == nil || !strings.Contains(err.Error(), "refused") {
				t.Errorf("dial %v:%d: %v, want connection refused", dst, port, err)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("refusal took %v: not a reset", d)
			}
			if f := r.next(t); f.Destination.Port() != port {
				t.Errorf("flow %+v, want port %d", f, port)
			}
		}
	}
}

// TestFlowListenerFirst checks that the gateway's own listeners take their
// connections and the handler sees only the rest.
func TestFlowListenerFirst(t *testing.T) {
	r := newFlowRig(t, func(ctx context.Context, f *tunnel.Flow) { f.Refuse() })
	l, err := r.gw.Listen("tcp", ":8080")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go echoConn(c)
		}
	}()
	c, err := r.client.Dial(testCtx(t, 20*time.Second), "tcp", netip.AddrPortFrom(r.gw.v4, 8080).String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case f := <-r.flows:
		t.Errorf("handler saw %+v, which a listener owns", f)
	default:
	}
}

func TestFlowInterceptUDP(t *testing.T) {
	r := newFlowRig(t, func(ctx context.Context, f *tunnel.Flow) {
		if f.Destination.Port() != 53 {
			f.Refuse()
			return
		}
		c, err := f.Accept()
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer c.Close()
		buf := make([]byte, 1500)
		for {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			c.Write(append([]byte("answer:"), buf[:n]...))
		}
	})
	dst := netip.MustParseAddrPort("10.100.0.9:53")
	c, err := r.client.Dial(testCtx(t, 10*time.Second), "udp", dst.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 1500)
	var got string
	for i := 0; i < 50 && got == ""; i++ {
		c.Write([]byte("q"))
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if n, err := c.Read(buf); err == nil {
			got = string(buf[:n])
		}
	}
	if got != "answer:q" {
		t.Fatalf("got %q", got)
	}
	f := r.next(t)
	if f.Protocol != tunnel.UDP || f.Peer != r.client.PublicKey() || f.Destination != dst || f.Source.Addr() != r.client.v4 {
		t.Errorf("flow %+v", f)
	}
	// A second datagram of the same flow goes to the accepted conn, not
	// to the handler.
	c.Write([]byte("again"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		// Skip late answers to the retried first datagram.
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("second datagram: %v", err)
		}
		if string(buf[:n]) == "answer:again" {
			break
		}
		if string(buf[:n]) != "answer:q" {
			t.Fatalf("second datagram: %q", buf[:n])
		}
	}
	select {
	case f := <-r.flows:
		if f.Destination == dst {
			t.Errorf("handler asked twice for one flow: %+v", f)
		}
	default:
	}

	// Refused: no answer, and the handler saw it.
	c2, err := r.client.Dial(testCtx(t, 10*time.Second), "udp", "10.100.0.9:54")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.Write([]byte("q"))
	c2.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if n, err := c2.Read(buf); err == nil {
		t.Errorf("refused flow answered %q", buf[:n])
	}
	for f := r.next(t); f.Destination.Port() != 54; f = r.next(t) {
	}
}

// TestFlowPendingAtClose closes the tunnel while a handler blocks: Close
// cancels the handler's context and waits for it.
func TestFlowPendingAtClose(t *testing.T) {
	entered := make(chan struct{})
	returned := make(chan struct{})
	r := newFlowRig(t, func(ctx context.Context, f *tunnel.Flow) {
		close(entered)
		<-ctx.Done()
		close(returned)
	})
	go r.client.Dial(testCtx(t, 5*time.Second), "tcp", "10.100.0.1:80")
	<-entered
	r.gw.Close()
	select {
	case <-returned:
	default:
		t.Fatal("Close returned before the flow handler")
	}
}

// TestRemovePeerDuringUDPFlows removes and re-adds a peer while it opens
// new UDP flows as fast as it can. gVisor offers a new UDP flow to the
// tunnel on the goroutine that delivers the packet, which is one that
// removing the peer waits for: removal must not hold what flow
// interception needs.
func TestRemovePeerDuringUDPFlows(t *testing.T) {
	var seen atomic.Int64
	r := newFlowRig(t, func(ctx context.Context, f *tunnel.Flow) {
		seen.Add(1)
		f.Refuse()
	})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for port := 1; ; port++ {
			select {
			case <-stop:
				return
			default:
			}
			c, err := r.client.Dial(context.Background(), "udp", fmt.Sprintf("10.100.0.9:%d", 1000+port%5000))
			if err != nil {
				continue
			}
			c.Write([]byte("x"))
			c.Close()
		}
	}()
	defer func() { close(stop); <-done }()
	go func() {
		for {
			select {
			case <-r.flows:
			case <-stop:
				return
			}
		}
	}()
	peer := tunnel.PeerConfig{
		PublicKey:  r.client.PublicKey(),
		Endpoint:   r.client.endpoint(),
		AllowedIPs: []netip.Prefix{netip.PrefixFrom(r.client.v4, 32), netip.PrefixFrom(r.client.v6, 128)},
	}
	for i := range 10 {
		// Wait until flows from the peer arrive, then remove it.
		n0 := seen.Load()
		ctx := testCtx(t, 30*time.Second)
		for seen.Load() < n0+20 {
			if ctx.Err() != nil {
				t.Fatalf("round %d: no flows from the peer", i)
			}
			// A packet from the gateway loads the peer and starts a
			// handshake, so the client's traffic gets through again.
			if c, err := r.gw.Dial(ctx, "udp", netip.AddrPortFrom(r.client.v4, 9).String()); err == nil {
				c.Write([]byte("hello"))
				c.Close()
			}
			time.Sleep(20 * time.Millisecond)
		}
		removed := make(chan error, 1)
		go func() { removed <- r.gw.RemovePeer(peer.PublicKey) }()
		select {
		case err := <-removed:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: RemovePeer blocked while the peer was opening flows", i)
		}
		if err := r.gw.SetPeer(context.Background(), peer); err != nil {
			t.Fatal(err)
		}
	}
}

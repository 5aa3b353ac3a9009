package tunnel_test

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gonaut/gonaut/tunnel"
)

// udpProxy relays datagrams between a client and a server over loopback
// and records what the client sent, so a test can replay it.
type udpProxy struct {
	conn   *net.UDPConn
	server *net.UDPAddr
	mu     sync.Mutex
	client *net.UDPAddr
	sent   [][]byte
}

func newUDPProxy(t *testing.T, server string) *udpProxy {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &udpProxy{conn: c}
	p.server, _ = net.ResolveUDPAddr("udp4", server)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			pkt := append([]byte(nil), buf[:n]...)
			p.mu.Lock()
			if from.Port == p.server.Port {
				if p.client != nil {
					c.WriteToUDP(pkt, p.client)
				}
			} else {
				p.client = from
				p.sent = append(p.sent, pkt)
				c.WriteToUDP(pkt, p.server)
			}
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return p
}

func (p *udpProxy) addr() string { return p.conn.LocalAddr().String() }

// replay sends everything the client sent again, to the server.
func (p *udpProxy) replay() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pkt := range p.sent {
		p.conn.WriteToUDP(pkt, p.server)
	}
	return len(p.sent)
}

// udpCounter is a UDP server in a tunnel that counts datagrams.
func udpCounter(t *testing.T, n *node, port uint16) (count func() int) {
	t.Helper()
	pc, err := n.ListenPacket("udp", netip.AddrPortFrom(n.v4, port).String())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			m, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			mu.Lock()
			got++
			mu.Unlock()
			pc.WriteTo(buf[:m], from)
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return func() int { mu.Lock(); defer mu.Unlock(); return got }
}

// roundTrip sends a UDP datagram from a to b's counter and waits for the
// echo, retrying while the handshake runs.
func roundTrip(t *testing.T, a *node, dst netip.AddrPort) {
	t.Helper()
	c, err := a.Dial(testCtx(t, 10*time.Second), "udp", dst.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64)
	for i := 0; i < 100; i++ {
		c.Write([]byte("x"))
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := c.Read(buf); err == nil {
			return
		}
	}
	t.Fatal("no UDP echo through the tunnel")
}

// TestBadDatagrams throws garbage, truncated WireGuard messages and
// replayed packets at a tunnel's UDP port: nothing crashes, replays are
// not delivered twice, and the tunnel keeps working.
func TestBadDatagrams(t *testing.T) {
	a := newNode(t, 1, nil)
	b := newNode(t, 2, nil)
	proxy := newUDPProxy(t, b.endpoint())
	if err := a.SetPeer(testCtx(t, time.Second), tunnel.PeerConfig{PublicKey: b.PublicKey(), Endpoint: proxy.addr(),
		AllowedIPs: []netip.Prefix{netip.PrefixFrom(b.v4, 32)}}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetPeer(testCtx(t, time.Second), tunnel.PeerConfig{PublicKey: a.PublicKey(),
		AllowedIPs: []netip.Prefix{netip.PrefixFrom(a.v4, 32)}}); err != nil {
		t.Fatal(err)
	}
	count := udpCounter(t, b, 4000)
	dst := netip.AddrPortFrom(b.v4, 4000)
	roundTrip(t, a, dst)
	// roundTrip may have sent more than one datagram while the handshake
	// ran; wait until the count stops moving.
	before := count()
	for stable := 0; stable < 5; {
		time.Sleep(100 * time.Millisecond)
		if n := count(); n != before {
			before, stable = n, 0
		} else {
			stable++
		}
	}

	// Replay every datagram a sent (handshake initiation and data): the
	// handshake replay is rejected by its timestamp and the data packets by
	// WireGuard's replay window.
	if n := proxy.replay(); n == 0 {
		t.Fatal("proxy saw no packets")
	}
	time.Sleep(300 * time.Millisecond)
	if got := count(); got != before {
		t.Errorf("server received %d datagrams after replay, want %d", got, before)
	}

	// Garbage, empty, truncated and oversized datagrams of every message
	// type.
	raw, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(b.endpoint())))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.Write(nil)
	for typ := byte(0); typ < 6; typ++ {
		for _, size := range []int{1, 4, 16, 31, 32, 92, 147, 148, 149, 500, 1500, 9000} {
			pkt := make([]byte, size)
			rand.Read(pkt)
			pkt[0] = typ
			if size >= 4 {
				pkt[1], pkt[2], pkt[3] = 0, 0, 0
			}
			raw.Write(pkt)
		}
	}
	// Transport packets carrying b's real receiver index but a forged
	// counter and tag.
	proxy.mu.Lock()
	var idx uint32
	for _, p := range proxy.sent {
		if len(p) >= 16 && p[0] == 4 {
			idx = binary.LittleEndian.Uint32(p[4:8])
		}
	}
	proxy.mu.Unlock()
	for i := 0; i < 50; i++ {
		pkt := make([]byte, 32+i*10)
		rand.Read(pkt)
		copy(pkt, []byte{4, 0, 0, 0})
		binary.LittleEndian.PutUint32(pkt[4:8], idx)
		raw.Write(pkt)
	}
	time.Sleep(200 * time.Millisecond)
	if got := count(); got != before {
		t.Errorf("server received %d datagrams after garbage, want %d", got, before)
	}
	roundTrip(t, a, dst)
	if count() <= before {
		t.Error("tunnel stopped working after bad input")
	}
}

// TestWrongKey has a node that b does not know, and a node that has a
// wrong public key for b, try to reach b: neither gets through, and b's
// peers are untouched.
func TestWrongKey(t *testing.T) {
	b := newNode(t, 2, nil)
	a := newNode(t, 1, nil)
	connect(t, a, b)
	stranger := newNode(t, 3, nil)
	confused := newNode(t, 4, nil)
	stranger.SetPeer(testCtx(t, time.Second), tunnel.PeerConfig{PublicKey: b.PublicKey(), Endpoint: b.endpoint(),
		AllowedIPs: []netip.Prefix{netip.PrefixFrom(b.v4, 32)}})
	confused.SetPeer(testCtx(t, time.Second), tunnel.PeerConfig{PublicKey: mustKey(t).PublicKey(), Endpoint: b.endpoint(),
		AllowedIPs: []netip.Prefix{netip.PrefixFrom(b.v4, 32)}})
	l, err := b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, n := range []*node{stranger, confused} {
		if c, err := n.Dial(testCtx(t, 2*time.Second), "tcp", fmt.Sprintf("%v:80", b.v4)); err == nil {
			c.Close()
			t.Errorf("node %v reached b", n.v4)
		}
	}
	ps := b.Peers()
	if len(ps) != 1 || ps[0].PublicKey != a.PublicKey() {
		t.Errorf("b's peers changed: %+v", ps)
	}
	// a, the real peer, still gets through.
	c, err := a.Dial(testCtx(t, 20*time.Second), "tcp", fmt.Sprintf("%v:80", b.v4))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

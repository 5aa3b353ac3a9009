package tunnel_test

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/gonaut/gonaut/tunnel"
)

// TestLazyPeers runs a hub with lazily loaded peers and many configured peers:
// a spoke that connects in (handshake first), and a spoke the hub
// connects out to (packet first), both get through, and the other
// configured peers stay unloaded.
func TestLazyPeers(t *testing.T) {
	hub := newNode(t, 1, nil) // lazy peers are the default
	in := newNode(t, 2, nil)
	out := newNode(t, 3, nil)
	ctx := context.Background()
	// 200 peers that never show up.
	for i := range 200 {
		if err := hub.SetPeer(ctx, tunnel.PeerConfig{
			PublicKey:  mustKey(t).PublicKey(),
			AllowedIPs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 50, byte(i >> 8), byte(i)}), 32)},
		}); err != nil {
			t.Fatal(err)
		}
	}
	connect(t, in, hub)
	connect(t, hub, out)

	// Inbound: "in" dials the hub; the hub learns "in" from its handshake.
	l, err := hub.Listen("tcp", ":80")
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
			io.WriteString(c, "hub")
			c.Close()
		}
	}()
	c, err := in.Dial(testCtx(t, 20*time.Second), "tcp", fmt.Sprintf("%v:80", hub.v4))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	c.Close()
	if string(b) != "hub" {
		t.Fatalf("inbound: %q", b)
	}

	// Outbound: the hub dials "out", which it has not heard from.
	ol, err := out.Listen("tcp", ":81")
	if err != nil {
		t.Fatal(err)
	}
	defer ol.Close()
	go func() {
		c, err := ol.Accept()
		if err == nil {
			io.WriteString(c, "out")
			c.Close()
		}
	}()
	c, err = hub.Dial(testCtx(t, 20*time.Second), "tcp", fmt.Sprintf("%v:81", out.v4))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(c)
	c.Close()
	if string(b) != "out" {
		t.Fatalf("outbound: %q", b)
	}

	ps := hub.Peers()
	if len(ps) != 202 {
		t.Fatalf("%d peers, want 202", len(ps))
	}
	handshakes := 0
	for _, p := range ps {
		if !p.LastHandshake.IsZero() {
			handshakes++
			if p.PublicKey != in.PublicKey() && p.PublicKey != out.PublicKey() {
				t.Errorf("unexpected handshake with %v", p.PublicKey)
			}
		}
	}
	if handshakes != 2 {
		t.Errorf("%d peers with a handshake, want 2", handshakes)
	}
	if k, ok := hub.WhoIs(netip.MustParseAddr("10.50.0.7")); !ok || k.IsZero() {
		t.Error("WhoIs does not know an unloaded peer")
	}
	// Removing a loaded peer cuts it off.
	if err := hub.RemovePeer(out.PublicKey()); err != nil {
		t.Fatal(err)
	}
	if _, err := hub.Dial(testCtx(t, time.Second), "tcp", fmt.Sprintf("%v:81", out.v4)); err == nil {
		t.Error("dial to a removed peer succeeded")
	}
}

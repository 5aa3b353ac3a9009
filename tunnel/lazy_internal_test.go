package tunnel

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"
)

// TestLazyEvictAndReload unloads an idle peer (with the idle cutoff moved
// to the future) and checks that traffic loads it again, at the endpoint
// it was last seen at.
func TestLazyEvictAndReload(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hk, _ := GeneratePrivateKey()
	sk, _ := GeneratePrivateKey()
	spoke, err := New(ctx, Config{PrivateKey: sk, Addresses: []netip.Prefix{netip.MustParsePrefix("10.60.0.2/32")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer spoke.Close()
	hub, err := New(ctx, Config{
		PrivateKey: hk,
		Addresses:  []netip.Prefix{netip.MustParsePrefix("10.60.0.1/32")},
		Peers: []PeerConfig{{
			PublicKey:  sk.PublicKey(),
			Endpoint:   fmt.Sprintf("127.0.0.1:%d", spoke.ListenPort()),
			AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.60.0.2/32")},
		}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	if err := spoke.SetPeer(ctx, PeerConfig{PublicKey: hk.PublicKey(), AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.60.0.1/32")}}); err != nil {
		t.Fatal(err)
	}
	l, err := spoke.Listen("tcp", ":80")
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
			io.WriteString(c, "ok")
			c.Close()
		}
	}()
	fetch := func() {
		t.Helper()
		c, err := hub.Dial(ctx, "tcp", "10.60.0.2:80")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(c)
		c.Close()
		if string(b) != "ok" {
			t.Fatalf("got %q", b)
		}
	}
	fetch()
	if n := len(hub.devicePeers()); n != 1 {
		t.Fatalf("%d peers loaded after traffic, want 1", n)
	}
	before := hub.Peers()
	if len(before) != 1 || before[0].RxBytes == 0 || before[0].TxBytes == 0 || before[0].LastHandshake.IsZero() {
		t.Fatalf("Peers() after traffic: %+v", before)
	}
	// A responder drops initiations less than 20 ms apart (flood) or in
	// the same 16 ms timestamp tick (replay), and a late packet of the
	// connection may load the peer again right after the eviction: let the
	// clock move on first (real evictions come minutes after the last
	// handshake).
	time.Sleep(50 * time.Millisecond)
	hub.evictIdle(time.Now().Add(time.Hour))
	if n := len(hub.devicePeers()); n != 0 {
		t.Fatalf("%d peers loaded after eviction, want 0", n)
	}
	ps := hub.Peers()
	if len(ps) != 1 || ps[0].Endpoint.Port() != uint16(spoke.ListenPort()) {
		t.Fatalf("Peers() after eviction: %+v", ps)
	}
	// An unloaded peer keeps its statistics (which may have grown by the
	// last packets of the connection before the eviction), and they stay
	// put while it is unloaded.
	if ps[0].RxBytes < before[0].RxBytes || ps[0].TxBytes < before[0].TxBytes || !ps[0].LastHandshake.Equal(before[0].LastHandshake) {
		t.Errorf("Peers() after eviction %+v, want at least the statistics of %+v", ps[0], before[0])
	}
	if again := hub.Peers(); again[0].RxBytes != ps[0].RxBytes || again[0].TxBytes != ps[0].TxBytes {
		t.Errorf("statistics of an unloaded peer changed: %+v, then %+v", ps[0], again[0])
	}
	before = ps
	fetch()
	if n := len(hub.devicePeers()); n != 1 {
		t.Fatalf("%d peers loaded after new traffic, want 1", n)
	}
	// The next load's counters add to the earlier ones.
	ps = hub.Peers()
	if len(ps) != 1 || ps[0].RxBytes <= before[0].RxBytes || ps[0].TxBytes <= before[0].TxBytes || !ps[0].LastHandshake.After(before[0].LastHandshake) {
		t.Errorf("Peers() after reload %+v, want more than %+v", ps[0], before[0])
	}
}

// TestLazyHostNameEndpoint configures a peer by host name: the name is
// resolved when the peer is configured, as WireGuard does, not when a
// packet loads the peer later; a name that does not resolve fails New.
func TestLazyHostNameEndpoint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hk, _ := GeneratePrivateKey()
	sk, _ := GeneratePrivateKey()
	spoke, err := New(ctx, Config{PrivateKey: sk, Addresses: []netip.Prefix{netip.MustParsePrefix("10.61.0.2/32")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer spoke.Close()
	peer := PeerConfig{
		PublicKey:  sk.PublicKey(),
		Endpoint:   fmt.Sprintf("localhost:%d", spoke.ListenPort()),
		AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.61.0.2/32")},
	}
	hub, err := New(ctx, Config{
		PrivateKey: hk,
		Addresses:  []netip.Prefix{netip.MustParsePrefix("10.61.0.1/32")},
		Peers:      []PeerConfig{peer},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	hub.mu.Lock()
	ep := hub.lazy.lastSeen[sk.PublicKey()]
	_, loaded := hub.lazy.loaded[sk.PublicKey()]
	hub.mu.Unlock()
	if !ep.IsValid() || ep.Port() != uint16(spoke.ListenPort()) || loaded {
		t.Fatalf("after New: endpoint %v, loaded %v; want the resolved endpoint and not loaded", ep, loaded)
	}
	if err := spoke.SetPeer(ctx, PeerConfig{PublicKey: hk.PublicKey(), AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.61.0.1/32")}}); err != nil {
		t.Fatal(err)
	}
	l, err := spoke.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			io.WriteString(c, "ok")
			c.Close()
		}
	}()
	c, err := hub.Dial(ctx, "tcp", "10.61.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	c.Close()
	if string(b) != "ok" {
		t.Fatalf("got %q", b)
	}

	bad := peer
	bad.Endpoint = "no-such-host.invalid:51820"
	short, cancelShort := context.WithTimeout(ctx, 5*time.Second)
	defer cancelShort()
	if tun, err := New(short, Config{
		PrivateKey: hk,
		Addresses:  []netip.Prefix{netip.MustParsePrefix("10.61.0.1/32")},
		Peers:      []PeerConfig{bad},
	}, nil); err == nil {
		tun.Close()
		t.Error("New accepted a peer whose endpoint does not resolve")
	}
}

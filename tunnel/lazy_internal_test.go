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
	hub.evictIdle(time.Now().Add(time.Hour))
	if n := len(hub.devicePeers()); n != 0 {
		t.Fatalf("%d peers loaded after eviction, want 0", n)
	}
	ps := hub.Peers()
	if len(ps) != 1 || ps[0].Endpoint.Port() != uint16(spoke.ListenPort()) {
		t.Fatalf("Peers() after eviction: %+v", ps)
	}
	// An unloaded peer keeps its statistics.
	if ps[0].RxBytes != before[0].RxBytes || ps[0].TxBytes != before[0].TxBytes || !ps[0].LastHandshake.Equal(before[0].LastHandshake) {
		t.Errorf("Peers() after eviction %+v, want the statistics of %+v", ps[0], before[0])
	}
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

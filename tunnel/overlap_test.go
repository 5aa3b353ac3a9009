package tunnel_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonaut/gonaut/tunnel"
)

// wantNamesBoth checks that err refuses an overlap and names both peers.
func wantNamesBoth(t *testing.T, err error, a, b tunnel.Key) {
	t.Helper()
	if !errors.Is(err, tunnel.ErrInvalidConfig) {
		t.Fatalf("err = %v, want an overlap refused with ErrInvalidConfig", err)
	}
	for _, k := range []tunnel.Key{a, b} {
		if !strings.Contains(err.Error(), k.String()) {
			t.Errorf("error %q does not name peer %v", err, k)
		}
	}
}

// TestOverlapRefused gives two peers the same or nested allowed IPs
// through every way a configuration reaches the tunnel.
func TestOverlapRefused(t *testing.T) {
	ka, kb := mustKey(t).PublicKey(), mustKey(t).PublicKey()
	for _, tc := range []struct{ a, b string }{
		{"10.5.0.2/32", "10.5.0.2/32"},
		{"10.5.0.2/32", "10.5.0.0/24"},
		{"10.5.0.0/16", "10.5.7.0/24"},
		{"fd00::2/128", "fd00::/64"},
	} {
		peers := []tunnel.PeerConfig{
			{PublicKey: ka, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.9.9.9/32"), netip.MustParsePrefix(tc.a)}},
			{PublicKey: kb, AllowedIPs: []netip.Prefix{netip.MustParsePrefix(tc.b)}},
		}
		cfg := tunnel.Config{
			PrivateKey: mustKey(t),
			Addresses:  []netip.Prefix{netip.MustParsePrefix("10.5.1.1/32")},
			Peers:      peers,
		}
		t.Run(tc.a+"/"+tc.b, func(t *testing.T) {
			// The API: New and Validate.
			if tun, err := tunnel.New(context.Background(), cfg, nil); err == nil {
				tun.Close()
				t.Fatal("New accepted overlapping peers")
			} else {
				wantNamesBoth(t, err, ka, kb)
			}
			// A wg-quick file.
			text := fmt.Sprintf("[Interface]\nPrivateKey = %v\nAddress = 10.5.1.1/32\n\n[Peer]\nPublicKey = %v\nAllowedIPs = %s\n\n[Peer]\nPublicKey = %v\nAllowedIPs = %s\n",
				cfg.PrivateKey, ka, tc.a, kb, tc.b)
			parsed, err := tunnel.ParseConfig([]byte(text))
			if err == nil {
				err = parsed.Validate()
			}
			wantNamesBoth(t, err, ka, kb)
			// SetPeer on a running tunnel, either order.
			n := newNode(t, 1, nil)
			if err := n.SetPeer(context.Background(), peers[0]); err != nil {
				t.Fatal(err)
			}
			wantNamesBoth(t, n.SetPeer(context.Background(), peers[1]), ka, kb)
			if k, ok := n.WhoIs(peers[1].AllowedIPs[0].Addr()); ok && k == kb {
				t.Error("the refused peer owns its address")
			}
			if len(n.Config().Peers) != 1 || len(n.Config().Peers[0].AllowedIPs) != 2 {
				t.Errorf("config after a refused SetPeer: %+v", n.Config().Peers)
			}
			// A bundle: the whole peer set at once, which must leave the
			// running set as it was.
			wantNamesBoth(t, n.SetPeers(context.Background(), peers), ka, kb)
			if len(n.Config().Peers) != 1 || n.Config().Peers[0].PublicKey != ka || len(n.Config().Peers[0].AllowedIPs) != 2 {
				t.Errorf("config after a refused SetPeers: %+v", n.Config().Peers)
			}
		})
	}
}

// TestForgedSourceDropped has peer B send through the tunnel with peer A's
// address as its source. The gateway must never see a flow as A's: before
// the fix B could hold a prefix around A's address, and while A was not
// loaded wireguard-go accepted B's packets while WhoIs named A.
func TestForgedSourceDropped(t *testing.T) {
	type seen struct {
		peer tunnel.Key
		src  netip.Addr
	}
	var (
		mu    sync.Mutex
		flows []seen
	)
	gw := newNode(t, 3, &tunnel.Options{FlowHandler: func(ctx context.Context, f *tunnel.Flow) {
		mu.Lock()
		flows = append(flows, seen{f.Peer, f.Source.Addr()})
		mu.Unlock()
		if c, err := f.Accept(); err == nil {
			c.Close()
		}
	}})
	// forger has A's tunnel address 10.99.0.1, so every packet its stack
	// sends carries A's address as source, under forger's own key.
	forger := newNode(t, 1, nil)
	victim := mustKey(t).PublicKey()
	ctx := context.Background()
	if err := gw.SetPeer(ctx, tunnel.PeerConfig{PublicKey: victim, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.99.0.1/32")}}); err != nil {
		t.Fatal(err)
	}
	err := gw.SetPeer(ctx, tunnel.PeerConfig{PublicKey: forger.PublicKey(), AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.99.0.0/24")}})
	if err == nil {
		t.Log("the gateway accepted a prefix around another peer's address")
	} else {
		wantNamesBoth(t, err, victim, forger.PublicKey())
		if err := gw.SetPeer(ctx, tunnel.PeerConfig{PublicKey: forger.PublicKey(), AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.99.0.9/32")}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := forger.SetPeer(ctx, tunnel.PeerConfig{PublicKey: gw.PublicKey(), Endpoint: gw.endpoint(), AllowedIPs: []netip.Prefix{netip.PrefixFrom(gw.v4, 32)}}); err != nil {
		t.Fatal(err)
	}
	dial := func(d time.Duration) {
		dctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		if c, err := forger.Dial(dctx, "tcp", netip.AddrPortFrom(gw.v4, 80).String()); err == nil {
			c.Close()
		}
	}
	dial(3 * time.Second)
	mu.Lock()
	for _, f := range flows {
		if f.peer == victim {
			t.Errorf("a flow from %v was decided as the victim's", f.src)
		}
	}
	if len(flows) != 0 {
		t.Errorf("flows with a forged source reached the gateway: %v", flows)
	}
	mu.Unlock()

	// Control: once the address is the forger's own, the same packets
	// arrive, as the forger's. So the drop above was the allowed-IPs check.
	if err := gw.RemovePeer(victim); err != nil {
		t.Fatal(err)
	}
	if err := gw.SetPeer(ctx, tunnel.PeerConfig{PublicKey: forger.PublicKey(), AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.99.0.1/32")}}); err != nil {
		t.Fatal(err)
	}
	dial(10 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(flows) == 0 || flows[len(flows)-1].peer != forger.PublicKey() {
		t.Errorf("control flow: %v, want one as the forger %v", flows, forger.PublicKey())
	}
}

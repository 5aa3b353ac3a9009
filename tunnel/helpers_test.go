package tunnel_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/gonaut/gonaut/tunnel"
)

// node is one end of a test tunnel.
type node struct {
	*tunnel.Tunnel
	key  tunnel.Key
	v4   netip.Addr
	v6   netip.Addr
	port int
}

func (n *node) endpoint() string { return fmt.Sprintf("127.0.0.1:%d", n.port) }

func mustKey(tb testing.TB) tunnel.Key {
	tb.Helper()
	k, err := tunnel.GeneratePrivateKey()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// newNode starts a tunnel with addresses 10.99.0.i and fd00:99::i and no
// peers. It is closed when the test ends.
func newNode(tb testing.TB, i int, opts *tunnel.Options) *node {
	tb.Helper()
	n := &node{
		key: mustKey(tb),
		v4:  netip.AddrFrom4([4]byte{10, 99, 0, byte(i)}),
		v6:  netip.MustParseAddr(fmt.Sprintf("fd00:99::%d", i)),
	}
	cfg := tunnel.Config{
		PrivateKey: n.key,
		Addresses:  []netip.Prefix{netip.PrefixFrom(n.v4, 32), netip.PrefixFrom(n.v6, 128)},
	}
	t, err := tunnel.New(context.Background(), cfg, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { t.Close() })
	n.Tunnel = t
	n.port = t.ListenPort()
	return n
}

// connect makes a and b peers of each other over loopback UDP. extra are
// more prefixes routed from a to b (b's AllowedIPs at a).
func connect(tb testing.TB, a, b *node, extra ...netip.Prefix) {
	tb.Helper()
	ctx := context.Background()
	err := a.SetPeer(ctx, tunnel.PeerConfig{
		PublicKey:  b.PublicKey(),
		Endpoint:   b.endpoint(),
		AllowedIPs: append([]netip.Prefix{netip.PrefixFrom(b.v4, 32), netip.PrefixFrom(b.v6, 128)}, extra...),
	})
	if err != nil {
		tb.Fatal(err)
	}
	err = b.SetPeer(ctx, tunnel.PeerConfig{
		PublicKey:  a.PublicKey(),
		Endpoint:   a.endpoint(),
		AllowedIPs: []netip.Prefix{netip.PrefixFrom(a.v4, 32), netip.PrefixFrom(a.v6, 128)},
	})
	if err != nil {
		tb.Fatal(err)
	}
}

func newPair(tb testing.TB, optsA, optsB *tunnel.Options) (a, b *node) {
	a = newNode(tb, 1, optsA)
	b = newNode(tb, 2, optsB)
	connect(tb, a, b)
	return a, b
}

func testCtx(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

package tunnel

import (
	"net/netip"
	"testing"
)

func TestPrefixTable(t *testing.T) {
	var pt prefixTable
	k1, k2, k3 := Key{1}, Key{2}, Key{3}
	pt.setPeer(k1, nil, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::/0")})
	pt.setPeer(k2, nil, []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("fd00::/64")})
	pt.setPeer(k3, nil, []netip.Prefix{netip.MustParsePrefix("10.1.2.3/32")})
	cases := []struct {
		addr string
		want Key
		ok   bool
	}{
		{"10.9.9.9", k1, true},
		{"10.1.9.9", k2, true},
		{"10.1.2.3", k3, true},
		{"::ffff:10.1.2.3", k3, true}, // mapped form of an IPv4 address
		{"11.0.0.1", Key{}, false},
		{"fd00::1", k2, true},
		{"2001:db8::1", k1, true},
	}
	for _, c := range cases {
		got, ok := pt.lookup(netip.MustParseAddr(c.addr))
		if got != c.want || ok != c.ok {
			t.Errorf("lookup(%s) = %v, %v; want %v, %v", c.addr, got, ok, c.want, c.ok)
		}
	}
	// Giving k3's prefix to k1 takes it from k3, as in WireGuard.
	losers := pt.setPeer(k1, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::/0")},
		[]netip.Prefix{netip.MustParsePrefix("10.1.2.3/32")})
	if len(losers[k3]) != 1 {
		t.Errorf("losers %v", losers)
	}
	if got, _ := pt.lookup(netip.MustParseAddr("10.1.2.3")); got != k1 {
		t.Errorf("moved prefix owned by %v", got)
	}
	if _, ok := pt.lookup(netip.MustParseAddr("10.9.9.9")); ok {
		t.Error("k1's removed /8 still matches")
	}
	// Removing k3's old prefix must not remove k1's.
	pt.setPeer(k3, []netip.Prefix{netip.MustParsePrefix("10.1.2.3/32")}, nil)
	if got, _ := pt.lookup(netip.MustParseAddr("10.1.2.3")); got != k1 {
		t.Errorf("after k3 removal, owner %v", got)
	}
}

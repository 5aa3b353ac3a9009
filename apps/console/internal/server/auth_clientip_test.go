package server

import (
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

func TestClientAddr(t *testing.T) {
	proxies, err := domain.ParseTrustedProxies("10.0.0.0/8, 192.0.2.7 2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"no proxy", "198.51.100.1:4000", nil, "198.51.100.1"},
		{"untrusted peer's header is ignored", "198.51.100.1:4000", []string{"203.0.113.9"}, "198.51.100.1"},
		{"trusted peer without a header", "10.1.2.3:4000", nil, "10.1.2.3"},
		{"one trusted proxy", "10.1.2.3:4000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"client-written entries left of the hop are ignored", "10.1.2.3:4000", []string{"1.1.1.1, 2.2.2.2, 203.0.113.9"}, "203.0.113.9"},
		{"a chain of trusted proxies", "10.1.2.3:4000", []string{"1.1.1.1, 203.0.113.9, 192.0.2.7", "10.9.9.9"}, "203.0.113.9"},
		{"every hop trusted", "10.1.2.3:4000", []string{"10.4.4.4, 192.0.2.7"}, "10.4.4.4"},
		{"garbage ends the walk at the last trusted hop", "10.1.2.3:4000", []string{"1.1.1.1, not-an-ip, 10.5.5.5"}, "10.5.5.5"},
		{"a hop with a port", "10.1.2.3:4000", []string{"203.0.113.9:55000"}, "203.0.113.9"},
		{"IPv6 hop", "[2001:db8::1]:4000", []string{"[2001:db8:ffff::1]:1, 2a00:1450::5"}, "2a00:1450::5"},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:4000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"empty entries are skipped", "10.1.2.3:4000", []string{"203.0.113.9, ,"}, "203.0.113.9"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientAddr(r, proxies); got.String() != c.want {
			t.Errorf("%s: client %s, want %s", c.name, got, c.want)
		}
	}
	if got := sourceKey(netip.MustParseAddr("2001:db8:1:2:3:4:5:6")); got != "2001:db8:1:2::/64" {
		t.Errorf("IPv6 source %s, want its /64", got)
	}
}

func TestParseTrustedProxies(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "proxy.example.com", "10.0.0.1/8/8", "fe80::1%eth0", "::ffff:10.0.0.0/104"} {
		if _, err := domain.ParseTrustedProxies(bad); err == nil || !strings.Contains(err.Error(), SettingTrustedProxies) {
			t.Errorf("%q: %v, want an error naming the setting", bad, err)
		}
	}
	ps, err := domain.ParseTrustedProxies(" 10.0.0.1/8,,::ffff:192.0.2.1\n2001:db8::/32 ")
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("2001:db8::/32")}
	if err != nil || !slices.Equal(ps, want) {
		t.Errorf("parsed %v, %v; want %v", ps, err, want)
	}
}

// FuzzClientAddr holds, for any peer, header and setting: the client is
// the peer unless the peer is trusted; it is otherwise the peer or an
// address written in the header; and it is an untrusted address unless
// every hop read was trusted.
func FuzzClientAddr(f *testing.F) {
	f.Add("10.1.2.3:4000", "1.1.1.1, 203.0.113.9", "10.0.0.0/8")
	f.Add("198.51.100.1:1", "203.0.113.9", "10.0.0.0/8")
	f.Add("[2001:db8::1]:4000", "[2001:db8:ffff::1]:1, 2a00:1450::5, x", "2001:db8::/32 192.0.2.7")
	f.Add("10.1.2.3:4000", "10.4.4.4,192.0.2.7,,garbage", "10.0.0.0/8,192.0.2.7")
	f.Add("pipe", "1.2.3.4", "0.0.0.0/0")
	f.Fuzz(func(t *testing.T, remote, xff, setting string) {
		proxies, err := domain.ParseTrustedProxies(setting)
		if err != nil {
			return
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		got := clientAddr(r, proxies)
		peer, ok := parseHop(remote)
		if !ok {
			if got.IsValid() {
				t.Fatalf("peer %q is no address but the client is %s", remote, got)
			}
			return
		}
		if !trusted(peer, proxies) {
			if got != peer {
				t.Fatalf("untrusted peer %s, client %s", peer, got)
			}
			return
		}
		if got == peer {
			return
		}
		found := false
		for _, e := range strings.Split(xff, ",") {
			if a, ok := parseHop(e); ok && a == got {
				found = true
			}
		}
		if !found {
			t.Fatalf("client %s is neither the peer nor in %q", got, xff)
		}
		if got.Zone() != "" || got.Is4In6() {
			t.Fatalf("client %s not normalised", got)
		}
		if sourceKey(got) == "" {
			t.Fatal("empty source key")
		}
	})
}

// FuzzParseTrustedProxies holds that a setting that parses prints back
// to one that parses to the same prefixes.
func FuzzParseTrustedProxies(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "192.0.2.7, 2001:db8::/32", " ,\t", "::ffff:1.2.3.4", "1.2.3.4/40", "fe80::1%lo"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := domain.ParseTrustedProxies(s)
		if err != nil {
			return
		}
		var parts []string
		for _, p := range ps {
			if !p.IsValid() || p != p.Masked() {
				t.Fatalf("%q gave prefix %v", s, p)
			}
			parts = append(parts, p.String())
		}
		again, err := domain.ParseTrustedProxies(strings.Join(parts, ","))
		if err != nil || !slices.Equal(again, ps) {
			t.Fatalf("%q: %v reparsed as %v, %v", s, ps, again, err)
		}
	})
}

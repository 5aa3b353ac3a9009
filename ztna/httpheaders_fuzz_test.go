package ztna

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// respell changes the case of name's letters and swaps '-' and '_' where
// mask's bits say, as a client may.
func respell(name string, mask uint64) string {
	b := []byte(name)
	for i, c := range b {
		if mask>>(uint(i)%64)&1 == 0 {
			continue
		}
		switch {
		case 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		case c == '-':
			b[i] = '_'
		case c == '_':
			b[i] = '-'
		}
	}
	return string(b)
}

func FuzzClientHeaders(f *testing.F) {
	for _, s := range []string{IdentityHeader, "X_Gonaut_Identity", "X-Forwarded-User", "x_real_ip", "Forwarded", "Accept", "X-Forwarded", "X-Forwarded-", "Cookie"} {
		f.Add(s, uint64(0))
		f.Add(s, ^uint64(0))
		f.Add(s, uint64(0x5555))
	}
	f.Fuzz(func(t *testing.T, name string, mask uint64) {
		v := respell(name, mask)
		if isClientHeader(name) != isClientHeader(v) {
			t.Fatalf("%q and %q are one header to a CGI upstream, but only one is stripped", name, v)
		}
		for _, forged := range []string{IdentityHeader, "X-Forwarded-For", "X-Real-IP", "Forwarded"} {
			if headerKey(v) == headerKey(forged) && !isClientHeader(v) {
				t.Fatalf("%q is a spelling of %s and is kept", v, forged)
			}
		}
		h := http.Header{name: {"forged"}, v: {"forged"}, "Accept": {"*/*"}}
		stripClientHeaders(h)
		for k := range h {
			if isClientHeader(k) {
				t.Fatalf("%q survived stripping", k)
			}
		}
		if !isClientHeader(name) && len(h[name]) == 0 {
			t.Fatalf("%q removed though it is no client header", name)
		}
	})
}

func FuzzMisdirected(f *testing.F) {
	wiki := &resource{cfg: ResourceConfig{Name: "wiki.corp"}, addr: netip.MustParseAddr("10.78.0.1")}
	hr := &resource{cfg: ResourceConfig{Name: "hr.corp"}, addr: netip.MustParseAddr("fd00::9")}
	st := &state{
		byName: map[string]*resource{"wiki.corp": wiki, "hr.corp": hr},
		byAddr: map[netip.Addr]*resource{wiki.addr: wiki, hr.addr: hr},
	}
	for _, s := range []string{"hr.corp", "HR.corp.:80", "[fd00::9]:80", "fd00::9", "wiki.corp", "10.78.0.1", "", ":80", "[", "hr.corp..", "[fe80::1%eth0]:80"} {
		f.Add(s, uint64(0), uint16(0), false)
		f.Add(s, uint64(3), uint16(8080), true)
	}
	f.Fuzz(func(t *testing.T, host string, mask uint64, port uint16, dot bool) {
		if other, bad := misdirected(st, wiki, host); bad {
			h := canonicalHost(host)
			if other != hr || (h != "hr.corp" && h != "fd00::9") {
				t.Fatalf("Host %q (%q) misdirected to %v", host, h, other)
			}
		}
		// Any spelling of hr.corp's name, with a final dot or a port, is
		// refused; wiki.corp's own is not.
		for _, name := range []string{"hr.corp", "wiki.corp"} {
			v := respell(name, mask)
			if dot {
				v += "."
			}
			if port != 0 {
				v += ":" + strconv.Itoa(int(port))
			}
			_, bad := misdirected(st, wiki, v)
			if want := strings.HasPrefix(name, "hr"); bad != want {
				t.Fatalf("Host %q: misdirected = %t, want %t", v, bad, want)
			}
		}
	})
}

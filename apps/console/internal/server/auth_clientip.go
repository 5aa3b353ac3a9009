package server

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// SettingTrustedProxies lists the reverse proxies in front of the
// console, as CIDR prefixes or single addresses separated by commas or
// spaces (e.g. "10.0.0.0/8, 192.0.2.7"). X-Forwarded-For is believed
// only from them; empty (the default): from nobody, and the client is
// the TCP peer. A value that does not parse is logged and trusts nobody.
const SettingTrustedProxies = domain.SettingTrustedProxies

// maxForwardedHops bounds how many X-Forwarded-For entries are read.
const maxForwardedHops = 64

func trusted(a netip.Addr, proxies []netip.Prefix) bool {
	for _, p := range proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop parses one X-Forwarded-For entry: an IP address, optionally
// with a port ("192.0.2.1:443", "[2001:db8::1]:443"), as some proxies
// write it.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// clientAddr is the address of the client that sent r: the TCP peer,
// unless the peer is a trusted proxy, in which case X-Forwarded-For is
// read from the right (the hop the nearest proxy appended) and the
// first hop that is not a trusted proxy is the client. Everything left
// of it was written by the client and is ignored. When every hop is
// trusted the leftmost is the client; an entry that does not parse ends
// the walk at the last trusted hop before it. The zero Addr means the
// peer's address is not an IP address (not over TCP).
func clientAddr(r *http.Request, proxies []netip.Prefix) netip.Addr {
	peer, ok := parseHop(r.RemoteAddr)
	if !ok || !trusted(peer, proxies) {
		return peer
	}
	hops := 0
	client := peer
	vals := r.Header.Values("X-Forwarded-For")
	for i := len(vals) - 1; i >= 0; i-- {
		entries := strings.Split(vals[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			if hops++; hops > maxForwardedHops {
				return client
			}
			if strings.TrimSpace(entries[j]) == "" {
				continue
			}
			a, ok := parseHop(entries[j])
			if !ok {
				return client
			}
			client = a
			if !trusted(a, proxies) {
				return a
			}
		}
	}
	return client
}

// sourceKey names the source of a request for throttling and login
// backoff: an IPv4 address, or the /64 an IPv6 address is in (one host
// commonly has a whole /64 to choose from).
func sourceKey(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is6():
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// clientSource is sourceKey of the client of r, with the
// trusted_proxies setting read from the store.
func (s *Server) clientSource(r *http.Request) string {
	return sourceKey(s.clientAddrOf(r))
}

// trustedProxies reads the trusted_proxies setting; a malformed one is
// logged (once per distinct value) and trusts nobody.
func (s *Server) trustedProxies(r *http.Request) []netip.Prefix {
	v := s.plat.Default().Setting(r.Context(), SettingTrustedProxies, "")
	if v == "" {
		return nil
	}
	ps, err := domain.ParseTrustedProxies(v)
	if err != nil {
		if _, logged := s.badProxies.LoadOrStore(v, true); !logged {
			s.log.Error("console: ignoring the trusted_proxies setting; X-Forwarded-For is believed from nobody", "err", err)
		}
		return nil
	}
	return ps
}

package ztna

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// misdirected reports whether an HTTP request that arrived at res's
// address names another resource in its Host (by name or by virtual
// address), and which. Upstreams always receive res's own name as Host,
// so such a request could not reach the other resource anyway; it is
// refused (421) so that the peer and the audit log see what happened
// rather than an answer from a resource the peer did not ask for. A Host
// that names no resource (an address of the upstream's, a name the
// gateway does not serve) is not misdirected: res's name replaces it.
func misdirected(st *state, res *resource, host string) (*resource, bool) {
	h := canonicalHost(host)
	if h == "" {
		return nil, false
	}
	var other *resource
	if a, err := netip.ParseAddr(h); err == nil {
		other = st.byAddr[a.WithZone("").Unmap()]
	} else {
		other = st.byName[h]
	}
	return other, other != nil && other != res
}

// canonicalHost is a Host header's name without port, brackets or a
// final dot, in lower case, as DNS and the resource table compare names.
func canonicalHost(host string) string {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// misdirectedError is the reason of a request refused by misdirected.
func misdirectedError(host string, other *resource) error {
	return fmt.Errorf("%w: host %q names resource %s", ErrMisdirected, host, other.cfg.Name)
}

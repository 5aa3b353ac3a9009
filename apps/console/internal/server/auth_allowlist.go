package server

import (
	"net/http"
	"net/netip"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

// The tenants' IP allowlists (see domain/allowlist.go) as the transport
// applies them: a request with a session is the console's and is held
// to console.allowlist, one with an API key to api.allowlist, each with
// the principal's role and the client address trusted_proxies decides.
// Sign-in is held to console.allowlist before the password is checked
// (some role must be allowed from the address) and after (the user's
// role must be).

// allowlistOf is the allowlist p's requests are held to.
func allowlistOf(p *principal) string {
	if p.session != nil {
		return domain.SettingConsoleAllowlist
	}
	return domain.SettingAPIAllowlist
}

// allowedFrom reports whether p may make r from its address; if not it
// records and answers the refusal itself.
func (s *Server) allowedFrom(w http.ResponseWriter, r *http.Request, rt route, p *principal) bool {
	key := allowlistOf(p)
	if p.dom.AllowList(r.Context(), key).Allows(p.role, p.addr) {
		return true
	}
	p.dom.RefuseAddress(r.Context(), p.domainActor(), key, r.URL.Path)
	w.Header().Set("X-Gonaut-Refusal", "address")
	if rt.page {
		s.render(w, r, http.StatusForbidden, ui.ErrorPage(s.pageOf(r, p, "Not from here", ""), http.StatusForbidden,
			domain.ErrAddressRefused.Error()+" ("+p.addr.String()+", as "+string(p.role)+"). Ask its admins to add it to console.allowlist."))
		return false
	}
	writeError(w, http.StatusForbidden, "address_refused", "%s as %s from %s", domain.ErrAddressRefused, p.role, p.addr)
	return false
}

// clientAddrOf is r's client address with trusted_proxies applied.
func (s *Server) clientAddrOf(r *http.Request) netip.Addr {
	return clientAddr(r, s.trustedProxies(r))
}

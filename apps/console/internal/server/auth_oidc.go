package server

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

// Single sign-on with OpenID Connect (see domain/oidc.go): GET
// /login/oidc/{id} sends the browser to the provider, GET
// /login/oidc/callback brings it back. Between the two the browser
// keeps the sign-in's state, nonce and PKCE verifier in oidcStateCookie,
// sealed with the console's secret key. That cookie is SameSite=Lax,
// unlike the session's: the provider's redirect back is a cross-site
// top-level navigation, on which a Strict cookie is not sent.

const (
	oidcStateCookie = "gonaut_oidc"
	oidcCallback    = "/login/oidc/callback"
	oidcBegin       = "/login/oidc/{id}"
	// maxOIDCNext bounds the page a sign-in returns to.
	maxOIDCNext = 512
)

func (s *Server) oidcRoutes() []route {
	return []route{
		pageRoute("GET", oidcCallback, permPublic, s.pageOIDCCallback),
		pageRoute("GET", oidcBegin, permPublic, s.pageOIDCBegin),
	}
}

// oidcRedirect is the callback URL of this console as the browser
// reaches it: the one registered at the provider.
func (s *Server) oidcRedirect(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || s.opts.SecureCookies {
		scheme = "https"
	}
	return scheme + "://" + r.Host + oidcCallback
}

// signInButtons are the providers the login page offers for
// organisation.
func (s *Server) signInButtons(r *http.Request, organisation string) []ui.SignInButton {
	org := strings.ToLower(strings.TrimSpace(organisation))
	dom, err := s.plat.Service(r.Context(), org)
	if err != nil {
		return nil
	}
	var out []ui.SignInButton
	for _, p := range dom.SignInProviders(r.Context()) {
		u := "/login/oidc/" + url.PathEscape(p.ID)
		q := url.Values{}
		if org != "" {
			q.Set("organisation", org)
		}
		if next := r.URL.Query().Get("next"); next != "" {
			q.Set("next", next)
		}
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
		out = append(out, ui.SignInButton{Name: p.Name, URL: u})
	}
	return out
}

// oidcFailed answers a single sign-on that did not sign in: an error
// page that leads back to the login form, where passwords still work.
func (s *Server) oidcFailed(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusUnauthorized, domain.ErrSSOFailed.Error()
	switch {
	case errors.Is(err, domain.ErrNotFound):
		status, msg = http.StatusNotFound, "this organisation has no such identity provider"
	case errors.Is(err, domain.ErrProviderUnavailable):
		status, msg = http.StatusBadGateway, err.Error()
	case errors.Is(err, domain.ErrSSOFailed):
	default:
		status, msg = loginRefusal(err)
	}
	w.Header().Set("X-Gonaut-Refusal", "sso")
	s.render(w, r, status, ui.ErrorPage(s.pageOf(r, nil, "Single sign-on failed", ""), status, msg+". You can go back to the login page: /login"))
}

func (s *Server) pageOIDCBegin(w http.ResponseWriter, r *http.Request, _ *principal) {
	// Starting proves nothing and is not throttled: the callback, where
	// a sign-in is decided, counts against the source's login budget.
	dom, err := s.plat.Service(r.Context(), strings.ToLower(strings.TrimSpace(r.URL.Query().Get("organisation"))))
	if err != nil {
		s.oidcFailed(w, r, domain.ErrNotFound)
		return
	}
	if !dom.AllowList(r.Context(), domain.SettingConsoleAllowlist).AllowsAnyRole(s.clientAddrOf(r)) {
		s.oidcFailed(w, r, domain.ErrAddressRefused)
		return
	}
	// The state cookie holds the page to return to; a sealed value is
	// bounded (domain's maxSealedLen), so a long one returns to "/".
	next := safeNext(r.URL.Query().Get("next"))
	if len(next) > maxOIDCNext {
		next = "/"
	}
	u, st, err := dom.OIDCBegin(r.Context(), r.PathValue("id"), s.oidcRedirect(r), next)
	if err != nil {
		s.oidcFailed(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oidcStateCookie, Value: s.plat.Default().SealOIDCState(st), Path: oidcCallback,
		MaxAge: int(10 * time.Minute / time.Second), HttpOnly: true, Secure: s.opts.SecureCookies, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, u, http.StatusSeeOther)
}

func (s *Server) pageOIDCCallback(w http.ResponseWriter, r *http.Request, _ *principal) {
	src := s.clientSource(r)
	// The state is good for one attempt, whatever its outcome.
	http.SetCookie(w, &http.Cookie{Name: oidcStateCookie, Value: "", Path: oidcCallback, MaxAge: -1,
		HttpOnly: true, Secure: s.opts.SecureCookies, SameSite: http.SameSiteLaxMode})
	if !s.loginIP.allow("ip:"+src, s.now()) {
		s.oidcFailed(w, r, domain.ErrThrottled)
		return
	}
	q := r.URL.Query()
	var st domain.OIDCState
	if c, err := r.Cookie(oidcStateCookie); err == nil {
		st, _ = s.plat.Default().OpenOIDCState(c.Value)
	}
	// Without a state of its own the attempt is recorded where the
	// browser meant to sign in, as far as the cookie says: the default
	// tenant otherwise.
	dom, err := s.plat.Service(r.Context(), st.Tenant)
	if err != nil {
		s.oidcFailed(w, r, domain.ErrSSOFailed)
		return
	}
	in := domain.OIDCCallback{State: st, ReturnState: q.Get("state"), Code: q.Get("code"), Error: q.Get("error"), Redirect: s.oidcRedirect(r), Source: src}
	_, err = s.signIn(w, r, dom, "", func(replaces string) (domain.SignedIn, error) {
		in.Replaces = replaces
		return dom.OIDCFinish(r.Context(), in)
	})
	if err != nil {
		s.oidcFailed(w, r, err)
		return
	}
	http.Redirect(w, r, safeNext(st.Next), http.StatusSeeOther)
}

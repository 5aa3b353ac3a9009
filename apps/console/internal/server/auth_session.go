package server

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// Sign-in over HTTP: the session cookie, the CSRF tokens and the login
// form's. Which credentials are good, and what a sign-in or a failed one
// does, is the domain's (domain.Service.Login, Session, APIKeyOf).

const (
	sessionCookie = "gonaut_session"
	// loginCSRFCookie carries the double-submit token of the login form,
	// which is shown before there is a session.
	loginCSRFCookie = "gonaut_login_csrf"
)

// authenticate finds the principal of a request from its session cookie
// or API key, in the tenant the credential names (see
// domain.SplitCredential). ok is false when credentials were presented
// but are not valid (the caller answers 401); (nil, true) means
// anonymous.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*principal, bool) {
	if h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		if tenant, key := domain.SplitCredential(h); strings.HasPrefix(key, "gk_") {
			return s.authAPIKey(r, tenant, strings.TrimPrefix(key, "gk_"))
		}
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, true
	}
	tenant, token := domain.SplitCredential(c.Value)
	dom, err := s.plat.Service(r.Context(), tenant)
	if err != nil {
		s.clearSession(w)
		return nil, true
	}
	se, u, err := dom.Session(r.Context(), token)
	if err != nil {
		s.clearSession(w)
		return nil, true
	}
	return &principal{dom: dom, tenant: dom.TenantID(), user: &u, role: u.Role, session: &se, addr: s.clientAddrOf(r), csrf: csrfToken(token), flashKey: flashKeyOf(token)}, true
}

func (s *Server) authAPIKey(r *http.Request, tenant, key string) (*principal, bool) {
	dom, err := s.plat.Service(r.Context(), tenant)
	if err != nil {
		return nil, false
	}
	k, err := dom.APIKeyOf(r.Context(), key)
	if err != nil {
		return nil, false
	}
	return &principal{dom: dom, tenant: dom.TenantID(), apiKey: &k, role: k.Role, addr: s.clientAddrOf(r), flashKey: flashKeyOf(key)}, true
}

// authGateway checks a gateway credential, "<id>.<secret>" behind its
// tenant's prefix; it answers 401 itself.
func (s *Server) authGateway(w http.ResponseWriter, r *http.Request) (*principal, bool) {
	h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tenant, cred := domain.SplitCredential(h)
	id, secret, ok2 := strings.Cut(cred, ".")
	if !ok || !ok2 {
		writeError(w, http.StatusUnauthorized, "unauthorized", "gateway credential required")
		return nil, false
	}
	dom, err := s.plat.Service(r.Context(), tenant)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "unauthorized", "gateway credential refused")
		return nil, false
	}
	g, err := dom.AuthenticateGateway(r.Context(), id, secret)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "unauthorized", "gateway credential refused")
		return nil, false
	}
	return &principal{dom: dom, tenant: dom.TenantID(), gateway: &g, addr: s.clientAddrOf(r)}, true
}

// checkCSRF compares the request's CSRF token with the session's, by
// hash: the store keeps only the hash.
func (s *Server) checkCSRF(r *http.Request, se *domain.Session) bool {
	tok := r.Header.Get("X-CSRF-Token")
	if tok == "" {
		tok = r.PostFormValue("csrf")
	}
	return tok != "" && subtle.ConstantTimeCompare([]byte(tokenHash(tok)), []byte(se.CSRFHash)) == 1
}

// csrfToken is the CSRF token of the session whose cookie value is sid.
// Pages carry it; the store keeps only its hash.
func csrfToken(sid string) string { return domain.CSRFToken(sid) }

func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.opts.SecureCookies, SameSite: http.SameSiteStrictMode,
	})
}

func (s *Server) clearSession(w http.ResponseWriter) { s.setCookie(w, sessionCookie, "", -1) }

// loginCSRF returns the login form's token, setting its cookie if needed.
func (s *Server) loginCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(loginCSRFCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	tok := randomToken()
	s.setCookie(w, loginCSRFCookie, tok, 3600)
	return tok
}

func (s *Server) checkLoginCSRF(r *http.Request, tok string) bool {
	c, err := r.Cookie(loginCSRFCookie)
	return err == nil && tok != "" && subtle.ConstantTimeCompare([]byte(c.Value), []byte(tok)) == 1
}

// login signs in to organisation (a tenant's id; "" is the default
// tenant) with the credentials of a login form and sets the new
// session's cookie. Attempts are throttled per client source first,
// before any account is looked at (domain.ErrThrottled); an unknown or
// suspended organisation fails as a wrong password does. The session
// the browser had, if any, ends (rotation), whichever tenant it was of.
func (s *Server) login(w http.ResponseWriter, r *http.Request, organisation, email, password, code string) (*domain.User, error) {
	src := s.clientSource(r)
	if !s.loginIP.allow("ip:"+src, s.now()) {
		return nil, domain.ErrThrottled
	}
	// No organisation is the root's own tenant: the default one.
	dom, err := s.plat.Service(r.Context(), strings.ToLower(strings.TrimSpace(organisation)))
	if err != nil {
		return nil, domain.ErrLoginFailed
	}
	in := domain.Login{Email: email, Password: password, Code: code, Source: src}
	return s.signIn(w, r, dom, email, func(replaces string) (domain.SignedIn, error) {
		in.Replaces = replaces
		return dom.Login(r.Context(), in)
	})
}

// signIn runs one sign-in into dom's tenant, a password's or a single
// sign-on's, with what every sign-in passes: the tenant's console
// allowlist before and, for the signed-in user's role, after; the end of
// the session the browser had (rotation, in whichever tenant it was);
// and the new session's cookie. name is who the attempt says it is, for
// an allowlist refusal before anyone is known.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, dom *domain.Service, name string, do func(replaces string) (domain.SignedIn, error)) (*domain.User, error) {
	tenant := dom.TenantID()
	replaces := ""
	if c, err := r.Cookie(sessionCookie); err == nil {
		if old, token := domain.SplitCredential(c.Value); old == tenant {
			replaces = token
		} else if od, err := s.plat.Service(r.Context(), old); err == nil {
			od.Logout(r.Context(), tokenHash(token))
		}
	}
	addr := s.clientAddrOf(r)
	list := dom.AllowList(r.Context(), domain.SettingConsoleAllowlist)
	refuse := func(role domain.Role, who string) (*domain.User, error) {
		dom.RefuseAddress(r.Context(), domain.Actor{ID: "anonymous", Name: who, Role: role, Tenant: tenant, Addr: addr}, domain.SettingConsoleAllowlist, r.URL.Path)
		return nil, domain.ErrAddressRefused
	}
	if !list.AllowsAnyRole(addr) {
		return refuse("", name)
	}
	si, err := do(replaces)
	if err != nil {
		return nil, err
	}
	if !list.Allows(si.User.Role, addr) {
		_, token := domain.SplitCredential(si.Token)
		dom.Logout(r.Context(), tokenHash(token))
		return refuse(si.User.Role, si.User.Email)
	}
	s.setCookie(w, sessionCookie, si.Token, int(si.Session.Policy.Max/time.Second))
	return &si.User, nil
}

// loginRefusal is what the login page says about a failed login, and
// with which status.
func loginRefusal(err error) (int, string) {
	switch {
	case errors.Is(err, domain.ErrThrottled):
		return http.StatusTooManyRequests, err.Error()
	case errors.Is(err, domain.ErrLoginFailed):
		return http.StatusUnauthorized, err.Error()
	case errors.Is(err, domain.ErrAddressRefused):
		return http.StatusForbidden, err.Error()
	case errors.Is(err, domain.ErrTooManySessions):
		return http.StatusConflict, err.Error()
	case errors.Is(err, domain.ErrSSORequired):
		return http.StatusForbidden, err.Error()
	}
	return http.StatusUnauthorized, "login failed"
}

// The transports' names for the domain's tokens (see package domain's
// tokens.go): gateway credentials, CSRF and flash keys are made here.

func randomBytes(n int) []byte { return domain.RandomBytes(n) }

func randomToken() string { return domain.RandomToken() }

// tokenHash is how secrets that need no slow hash (session ids, API key
// and gateway secrets, all 256-bit random) are kept at rest.
func tokenHash(s string) string { return domain.TokenHash(s) }

// derivedToken is a secret for one purpose derived from a credential the
// client presents on every request (see domain.DerivedToken).
func derivedToken(credential, purpose string) string { return domain.DerivedToken(credential, purpose) }

package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/pquerna/otp/totp"
)

const (
	sessionCookie = "gonaut_session"
	// loginCSRFCookie carries the double-submit token of the login form,
	// which is shown before there is a session.
	loginCSRFCookie = "gonaut_login_csrf"
)

// authenticate finds the principal of a request from its session cookie
// or API key. ok is false when credentials were presented but are not
// valid (the caller answers 401); (nil, true) means anonymous.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*principal, bool) {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer gk_") {
		return s.authAPIKey(r.Context(), strings.TrimPrefix(h, "Bearer gk_"))
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, true
	}
	ctx := r.Context()
	se, err := s.st.Session(ctx, tokenHash(c.Value))
	if err != nil {
		s.clearSession(w)
		return nil, true
	}
	now := s.now()
	if now.Sub(se.LastSeen) > s.opts.SessionIdle || now.Sub(se.Created) > s.opts.SessionMax {
		s.st.DeleteSession(ctx, se.ID)
		s.clearSession(w)
		return nil, true
	}
	u, err := s.st.User(ctx, se.UserID)
	if err != nil || u.Disabled {
		s.st.DeleteSession(ctx, se.ID)
		s.clearSession(w)
		return nil, true
	}
	// Touch at most once a minute: the idle timeout needs no finer grain.
	if now.Sub(se.LastSeen) > time.Minute {
		s.st.TouchSession(ctx, se.ID, now)
	}
	return &principal{user: u, role: u.Role, session: se, csrf: csrfToken(c.Value), flashKey: flashKeyOf(c.Value)}, true
}

func (s *Server) authAPIKey(ctx context.Context, key string) (*principal, bool) {
	id, secret, ok := strings.Cut(key, ".")
	if !ok {
		return nil, false
	}
	k, err := s.st.APIKey(ctx, id)
	if err != nil || k.Revoked || subtle.ConstantTimeCompare([]byte(k.Hash), []byte(tokenHash(secret))) != 1 {
		return nil, false
	}
	now := s.now()
	if !now.Before(k.Expires) {
		return nil, false
	}
	if k.Owner != "" {
		// The key acts for its owner: it stops when they are disabled
		// or removed, or no longer hold every permission of its role.
		u, err := s.st.User(ctx, k.Owner)
		if err != nil || u.Disabled || !covers(u.Role, k.Role) {
			return nil, false
		}
	}
	if now.Sub(k.LastUsed) > time.Minute {
		s.st.TouchAPIKey(ctx, k.ID, now)
	}
	return &principal{apiKey: k, role: k.Role, flashKey: flashKeyOf(key)}, true
}

// authGateway checks a gateway credential; it answers 401 itself.
func (s *Server) authGateway(w http.ResponseWriter, r *http.Request) (*store.Gateway, bool) {
	h := r.Header.Get("Authorization")
	id, secret, ok := strings.Cut(strings.TrimPrefix(h, "Bearer "), ".")
	if !ok || !strings.HasPrefix(h, "Bearer ") {
		writeError(w, http.StatusUnauthorized, "unauthorized", "gateway credential required")
		return nil, false
	}
	g, err := s.st.Gateway(r.Context(), id)
	if err != nil || g.Revoked || g.SecretHash == "" || subtle.ConstantTimeCompare([]byte(g.SecretHash), []byte(tokenHash(secret))) != 1 {
		writeError(w, http.StatusUnauthorized, "unauthorized", "gateway credential refused")
		return nil, false
	}
	return g, true
}

// checkCSRF compares the request's CSRF token with the session's, by
// hash: the store keeps only the hash.
func (s *Server) checkCSRF(r *http.Request, se *store.Session) bool {
	tok := r.Header.Get("X-CSRF-Token")
	if tok == "" {
		tok = r.PostFormValue("csrf")
	}
	return tok != "" && subtle.ConstantTimeCompare([]byte(tokenHash(tok)), []byte(se.CSRFHash)) == 1
}

// csrfToken is the CSRF token of the session whose cookie value is sid.
// Pages carry it; the store keeps only its hash.
func csrfToken(sid string) string { return derivedToken(sid, "csrf") }

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

var errThrottled = errors.New("console: too many login attempts; wait a little")
var errLocked = errors.New("console: account locked after too many failed logins; try again later")

// login checks credentials and a TOTP or recovery code, applying
// throttling and lockout, and starts a new session: any session the
// browser had is ended (rotation), so a planted cookie never becomes a
// logged-in one.
func (s *Server) login(w http.ResponseWriter, r *http.Request, email, password, code string) (*store.User, error) {
	ctx := r.Context()
	now := s.now()
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	if !s.loginIP.allow("ip:"+ip, now) || !s.loginUser.allow("user:"+strings.ToLower(email), now) {
		return nil, errThrottled
	}
	u, err := s.st.UserByEmail(ctx, email)
	if err != nil {
		// Spend the same time as a real check so that timing does not
		// tell which emails exist.
		CheckPassword(dummyHash, password)
		return nil, errLoginFailed
	}
	if u.LockedUntil.After(now) {
		return nil, errLocked
	}
	ok := !u.Disabled && CheckPassword(u.PasswordHash, password)
	mfa := false
	if ok && u.TOTPEnabled {
		code = strings.TrimSpace(code)
		switch {
		case totp.Validate(code, u.TOTPSecret):
			mfa = true
		case useRecovery(u, code):
			mfa = true
		default:
			ok = false
		}
	}
	if !ok {
		u.FailedLogins++
		if u.FailedLogins >= s.opts.LockoutAfter {
			u.LockedUntil = now.Add(s.opts.LockoutFor)
			u.FailedLogins = 0
		}
		s.st.UpdateUser(ctx, u)
		s.audit(ctx, u.Email, "login.failed", "", "", nil)
		return nil, errLoginFailed
	}
	if u.FailedLogins != 0 || mfa {
		u.FailedLogins = 0
		if err := s.st.UpdateUser(ctx, u); err != nil {
			return nil, err
		}
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.st.DeleteSession(ctx, tokenHash(c.Value))
	}
	sid := randomToken()
	se := &store.Session{ID: tokenHash(sid), UserID: u.ID, CSRFHash: tokenHash(csrfToken(sid)), Created: now, LastSeen: now, MFA: mfa}
	if err := s.st.CreateSession(ctx, se); err != nil {
		return nil, err
	}
	s.setCookie(w, sessionCookie, sid, int(s.opts.SessionMax/time.Second))
	s.audit(ctx, u.Email, "login", "", "", map[string]any{"mfa": mfa})
	return u, nil
}

// useRecovery consumes a recovery code of u if code is one; the caller
// saves u.
func useRecovery(u *store.User, code string) bool {
	h := tokenHash(strings.ToLower(code))
	for i, c := range u.Recovery {
		if subtle.ConstantTimeCompare([]byte(c), []byte(h)) == 1 {
			u.Recovery = append(u.Recovery[:i:i], u.Recovery[i+1:]...)
			return true
		}
	}
	return false
}

var dummyHash = HashPassword("not a password anyone has")

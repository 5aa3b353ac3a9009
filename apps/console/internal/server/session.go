package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
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
func (s *Server) authGateway(w http.ResponseWriter, r *http.Request) (*domain.Gateway, bool) {
	h := r.Header.Get("Authorization")
	id, secret, ok := strings.Cut(strings.TrimPrefix(h, "Bearer "), ".")
	if !ok || !strings.HasPrefix(h, "Bearer ") {
		writeError(w, http.StatusUnauthorized, "unauthorized", "gateway credential required")
		return nil, false
	}
	g, err := s.dom.AuthenticateGateway(r.Context(), id, secret)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "unauthorized", "gateway credential refused")
		return nil, false
	}
	return &g, true
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

// backoffForget is how long after its last failure a run of failed
// logins of one account from one source is forgotten.
const backoffForget = 24 * time.Hour

// maxAuditedEmail bounds the email recorded for a failed login.
const maxAuditedEmail = 254

// login checks credentials and a TOTP or recovery code and starts a new
// session: any session the browser had is ended (rotation), so a planted
// cookie never becomes a logged-in one.
//
// Failures slow down one account from one source (see loginBackoff),
// never the account everywhere. Unknown, disabled and backed-off
// accounts get the same answer as a wrong password, after the same
// argon2 work (against a dummy hash), so that neither the answer nor its
// timing tells them apart. Login never rewrites the user row: failures
// are counted in their own table and a recovery code is consumed by a
// targeted update, so a concurrent disable, demotion or password reset
// always holds.
func (s *Server) login(w http.ResponseWriter, r *http.Request, email, password, code string) (*store.User, error) {
	ctx := r.Context()
	now := s.now()
	src := s.clientSource(r)
	if !s.loginIP.allow("ip:"+src, now) {
		return nil, errThrottled
	}
	u, err := s.st.UserByEmail(ctx, email)
	if err != nil {
		u = nil
	}
	hash, reason := dummyHash, "unknown account"
	if u != nil {
		f, err := s.st.LoginFailures(ctx, u.ID, src)
		if err != nil {
			CheckPassword(dummyHash, password)
			return nil, err
		}
		switch wait := s.loginBackoff(f.Failures); {
		case u.Disabled:
			reason = "disabled"
		case now.Before(f.Last.Add(wait)):
			reason = "backoff"
		default:
			hash, reason = u.PasswordHash, ""
		}
	}
	// The password is checked in every case, against a dummy hash when
	// there is no real check to make, so that timing says nothing.
	ok := CheckPassword(hash, password) && reason == ""
	if reason == "" && !ok {
		reason = "password"
	}
	if hook := s.testHookPasswordChecked.Load(); hook != nil {
		(*hook)()
	}
	mfa := false
	if ok && u.TOTPEnabled {
		// The accepted step or recovery code is used up in the store
		// itself, so a replay or a concurrent login with it fails.
		if mfa, err = s.secondFactor(ctx, u, code); err != nil {
			s.log.Error("console: checking a second factor", "user", u.ID, "err", err)
			return nil, err
		}
		if !mfa {
			reason = "code"
		}
		ok = mfa
	}
	if !ok {
		// A known account is named by its id like every other entry of
		// hers; an unknown one has no id, so the entry keeps the email
		// as typed (bounded), which a filter by that email still finds.
		actor := strings.ToLower(email)
		if len(actor) > maxAuditedEmail {
			actor = actor[:maxAuditedEmail]
		}
		if u != nil {
			actor = u.ID
		}
		if reason == "password" || reason == "code" {
			// Only a real check counts: attempts while backed off were
			// never checked and do not extend the wait.
			if _, err := s.st.RecordLoginFailure(ctx, u.ID, src, now, backoffForget); err != nil {
				s.log.Error("console: recording a failed login", "err", err)
			}
		}
		s.audit(ctx, actor, "login.failed", "", "", map[string]string{"source": src, "reason": reason})
		return nil, errLoginFailed
	}
	if err := s.st.ClearLoginFailures(ctx, u.ID, src); err != nil {
		return nil, err
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
	s.audit(ctx, u.ID, "login", "", "", map[string]any{"mfa": mfa, "source": src})
	return u, nil
}

// loginBackoff is how long a source must wait after its last failure
// before its next attempt on an account is checked, after failures in a
// row from it: nothing for the first BackoffAfter-1, then BackoffBase,
// doubling with every further failure up to BackoffMax.
func (s *Server) loginBackoff(failures int) time.Duration {
	n := failures - s.opts.BackoffAfter
	if n < 0 {
		return 0
	}
	d := s.opts.BackoffBase
	for ; n > 0 && d < s.opts.BackoffMax; n-- {
		d *= 2
	}
	return min(d, s.opts.BackoffMax)
}

var dummyHash = HashPassword("not a password anyone has")

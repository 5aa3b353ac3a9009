package domain

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// A web session is a random token the browser keeps (a cookie) and the
// store knows only by its hash; its CSRF token is derived from it, so
// the store does not hold that either. The transport carries both; the
// operations here start, find and end sessions.

// Session is a signed-in browser.
type Session struct {
	ID       string // the hash of the token; the store's key
	UserID   string
	CSRFHash string // the hash of CSRFToken(token)
	Created  time.Time
	LastSeen time.Time
	MFA      bool // the sign-in gave a second factor
	// Reauth is when the password was last entered again (see Fresh).
	Reauth time.Time
	// Policy is the session policy of the user's role.
	Policy SessionPolicy
}

func sessionOf(se *store.Session, p SessionPolicy) Session {
	return Session{ID: se.ID, UserID: se.UserID, CSRFHash: se.CSRFHash, Created: se.Created, LastSeen: se.LastSeen, MFA: se.MFA, Reauth: se.Reauth, Policy: p}
}

// CSRFToken is the CSRF token of the session whose token is token.
// Pages carry it; the store keeps only its hash.
func CSRFToken(token string) string { return DerivedToken(token, "csrf") }

// errSessionEnded is a session token that names no live session.
var errSessionEnded = &UnauthorizedError{Message: "the session ended; log in again"}

// SessionMax is how long a web session lasts at most since its sign-in
// (Options.SessionMax, defaulted): what the transport's cookie says.
func (s *Service) SessionMax() time.Duration { return s.opts.SessionMax }

// Session returns the live session whose token is token and its user.
// A session past Options.SessionIdle without use or Options.SessionMax
// since its sign-in, or whose user is disabled or removed, is ended and
// refused; any refusal is an *UnauthorizedError, and the caller forgets
// the token.
func (s *Service) Session(ctx context.Context, token string) (Session, User, error) {
	se, err := s.st.Session(ctx, TokenHash(token))
	if err != nil {
		return Session{}, User{}, errSessionEnded
	}
	now := s.now()
	u, err := s.st.User(ctx, se.UserID)
	if err != nil || u.Disabled {
		s.st.DeleteSession(ctx, se.ID)
		return Session{}, User{}, errSessionEnded
	}
	p := s.SessionPolicy(ctx, u.Role)
	if now.Sub(se.LastSeen) > p.Idle || now.Sub(se.Created) > p.Max {
		s.st.DeleteSession(ctx, se.ID)
		return Session{}, User{}, errSessionEnded
	}
	// Touch at most once a minute: the idle timeout needs no finer grain.
	if now.Sub(se.LastSeen) > time.Minute {
		s.st.TouchSession(ctx, se.ID, now)
	}
	return sessionOf(se, p), userOf(u), nil
}

// Logout ends the session with id (a Session's ID).
func (s *Service) Logout(ctx context.Context, id string) {
	s.st.DeleteSession(ctx, id)
}

// backoffForget is how long after its last failure a run of failed
// logins of one account from one source is forgotten.
const backoffForget = 24 * time.Hour

// maxAuditedEmail bounds the email recorded for a failed login.
const maxAuditedEmail = 254

// Login is a sign-in attempt.
type Login struct {
	Email, Password string
	// Code is a TOTP or recovery code, needed when the account has a
	// second factor.
	Code string
	// Source is where the attempt comes from (a client address, an
	// IPv6 /64): failures slow down this source on this account only.
	Source string
	// Replaces is the session token the browser had, "" for none; a
	// sign-in ends it (rotation), so a planted token never becomes a
	// signed-in one.
	Replaces string
}

// SignedIn is a started session: Token is the secret the browser keeps
// (shown once; the store has its hash).
type SignedIn struct {
	User    User
	Session Session
	Token   string
}

// Login checks credentials and a TOTP or recovery code and starts a new
// session.
//
// Failures slow down one account from one source (see backoff), never
// the account everywhere. Unknown, disabled and backed-off accounts get
// the same answer as a wrong password (ErrLoginFailed), after the same
// argon2 work (against a dummy hash), so that neither the answer nor its
// timing tells them apart. Login never rewrites the user row: failures
// are counted in their own table and a recovery code is consumed by a
// targeted update, so a concurrent disable, demotion or password reset
// always holds.
func (s *Service) Login(ctx context.Context, in Login) (SignedIn, error) {
	now := s.now()
	src := in.Source
	u, err := s.st.UserByEmail(ctx, in.Email)
	if err != nil {
		u = nil
	}
	hash, reason := dummyHash, "unknown account"
	// Under sso.required only admins keep their password (break-glass);
	// everyone else, known or not, gets the same answer after the same
	// work.
	ssoOnly := s.SSORequired(ctx) && (u == nil || u.Role != RoleAdmin)
	if ssoOnly {
		reason = "sso_required"
	} else if u != nil {
		f, err := s.st.LoginFailures(ctx, u.ID, src)
		if err != nil {
			CheckPassword(dummyHash, in.Password)
			return SignedIn{}, err
		}
		switch wait := s.backoff(f.Failures); {
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
	ok := CheckPassword(hash, in.Password) && reason == ""
	if reason == "" && !ok {
		reason = "password"
	}
	if s.opts.PasswordChecked != nil {
		s.opts.PasswordChecked()
	}
	mfa := false
	if ok && u.TOTPEnabled {
		// The accepted step or recovery code is used up in the store
		// itself, so a replay or a concurrent login with it fails.
		if mfa, err = s.secondFactor(ctx, u, in.Code); err != nil {
			s.log.Error("console: checking a second factor", "user", u.ID, "err", err)
			return SignedIn{}, err
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
		actor := strings.ToLower(in.Email)
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
		s.record(ctx, Actor{ID: actor}, "login.failed", "", "", map[string]string{"source": src, "reason": reason})
		if ssoOnly {
			return SignedIn{}, ErrSSORequired
		}
		return SignedIn{}, ErrLoginFailed
	}
	if err := s.st.ClearLoginFailures(ctx, u.ID, src); err != nil {
		return SignedIn{}, err
	}
	return s.openSession(ctx, u, mfa, src, in.Replaces, map[string]any{"mfa": mfa, "source": src})
}

// openSession starts a session of u after a sign-in that proved who she
// is (a password, a single sign-on), ending the session replaces had:
// the concurrent-session policy of her role, the session row and the
// "login" entry with detail. Every way of signing in ends here.
func (s *Service) openSession(ctx context.Context, u *store.User, mfa bool, src, replaces string, detail map[string]any) (SignedIn, error) {
	now := s.now()
	if replaces != "" {
		s.st.DeleteSession(ctx, TokenHash(replaces))
	}
	policy := s.SessionPolicy(ctx, u.Role)
	token := RandomToken()
	se := &store.Session{ID: TokenHash(token), UserID: u.ID, CSRFHash: TokenHash(CSRFToken(token)), Created: now, LastSeen: now, MFA: mfa}
	s.sessionMu.Lock()
	err := s.enforceConcurrent(ctx, u.ID, policy, now)
	if err == nil {
		err = s.st.CreateSession(ctx, se)
	}
	s.sessionMu.Unlock()
	if errors.Is(err, ErrTooManySessions) {
		s.record(ctx, Actor{ID: u.ID, UserID: u.ID, Role: u.Role}, "login.refused", "", "deny", map[string]any{"reason": "sessions", "limit": policy.Concurrent, "source": src})
		return SignedIn{}, err
	}
	if err != nil {
		return SignedIn{}, err
	}
	s.record(ctx, Actor{ID: u.ID, UserID: u.ID, Role: u.Role}, "login", "", "", detail)
	return SignedIn{User: userOf(u), Session: sessionOf(se, policy), Token: s.Credential(token)}, nil
}

// backoff is how long a source must wait after its last failure before
// its next attempt on an account is checked, after failures in a row
// from it: nothing for the first Options.BackoffAfter-1, then
// BackoffBase, doubling with every further failure up to BackoffMax.
func (s *Service) backoff(failures int) time.Duration {
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

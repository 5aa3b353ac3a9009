package domain

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// A user's second factor is a TOTP authenticator (RFC 6238: SHA-1, six
// digits, 30-second steps, one step of clock skew either way) and ten
// one-time recovery codes. Every accepted code is used up in the store
// with a conditional update, so that neither a replay within the code's
// window nor a burst of concurrent logins gets more than one session out
// of it. Turning the factor off or replacing it needs the password and a
// current code in the same request: a session alone is not enough.

const (
	// TOTPPeriod is the length of a TOTP step, in seconds.
	TOTPPeriod = 30
	// purposeTOTP is the sealing purpose of TOTP secrets.
	purposeTOTP = "totp secret"
)

var totpOpts = totp.ValidateOpts{Period: TOTPPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

func totpStep(t time.Time) int64 { return t.Unix() / TOTPPeriod }

// matchTOTP returns the time step near now (one step of skew either way)
// whose code for secret is code.
func matchTOTP(secret, code string, now time.Time) (int64, bool) {
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return 0, false
	}
	cur := totpStep(now)
	for step := cur - 1; step <= cur+1; step++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*TOTPPeriod, 0), totpOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

// totpSecret returns u's TOTP secret in the clear. A secret stored before
// secrets were sealed has no seal at all (nothing that fails to open is
// ever read as plaintext); it is sealed now, unless this console's key is
// a throwaway one.
func (s *Service) totpSecret(ctx context.Context, u *store.User) (string, error) {
	pt, err := s.box.open(purposeTOTP, u.ID, u.TOTPSecret)
	if !errors.Is(err, errNotSealed) {
		return pt, err
	}
	if !s.ephemeralKey && u.TOTPSecret != "" {
		if _, err := s.st.ReplaceTOTPSecret(ctx, u.ID, u.TOTPSecret, s.box.seal(purposeTOTP, u.ID, u.TOTPSecret)); err != nil {
			s.log.Warn("console: sealing a TOTP secret", "user", u.ID, "err", err)
		}
	}
	return u.TOTPSecret, nil
}

// secondFactor checks code against u's authenticator and then against
// u's recovery codes, and uses up what it accepts: a TOTP time step once
// per user (a code, or an earlier one, is never accepted again), a
// recovery code once. It reports whether code was accepted.
func (s *Service) secondFactor(ctx context.Context, u *store.User, code string) (bool, error) {
	code = strings.TrimSpace(code)
	if code == "" {
		return false, nil
	}
	secret, err := s.totpSecret(ctx, u)
	if err != nil {
		return false, err
	}
	if step, ok := matchTOTP(secret, code, s.now()); ok {
		return s.st.UseTOTPStep(ctx, u.ID, step)
	}
	return s.st.UseRecoveryCode(ctx, u.ID, TokenHash(strings.ToLower(code)))
}

// reauthenticate checks, before a change to the credentials of the user
// with id, that the caller knows her password now and, when she has a
// second factor, a current code of it (or a recovery code, which is used
// up). Attempts count against the user's re-authentication throttle
// (Options.Reauth), so that a stolen session cannot guess the password
// quickly. It returns the user as read for the check.
func (s *Service) reauthenticate(ctx context.Context, id, password, code string) (*store.User, error) {
	if !s.opts.Reauth(id) {
		return nil, ErrThrottled
	}
	// Read afresh: the password or the factor may have changed since the
	// request's session was checked.
	cur, err := s.st.User(ctx, id)
	if err != nil {
		return nil, fromStore(err)
	}
	if !CheckPassword(cur.PasswordHash, password) {
		s.record(ctx, Actor{ID: cur.ID}, "reauth.failed", "", "", nil)
		return nil, ErrReauth
	}
	if cur.TOTPEnabled {
		ok, err := s.secondFactor(ctx, cur, code)
		if err != nil {
			return nil, err
		}
		if !ok {
			s.record(ctx, Actor{ID: cur.ID}, "reauth.failed", "", "", nil)
			return nil, ErrReauth
		}
	}
	return cur, nil
}

// TOTPEnrolment is a pending authenticator: the secret to type or scan.
type TOTPEnrolment struct {
	Secret string
	URL    string // otpauth:// URL, what the QR code carries
}

// errNoAccount refuses a credential operation by a principal with no
// account (an API key).
var errNoAccount = Invalid("", "TOTP is for user accounts")

// StartTOTP makes a new secret the actor's pending enrolment. The secret
// in use, if any, stays in use until the new one is confirmed. It needs
// re-authentication: the password, and a current code when a factor is
// already enrolled.
func (s *Service) StartTOTP(ctx context.Context, a Actor, password, code string) (TOTPEnrolment, error) {
	if !a.isUser() {
		return TOTPEnrolment{}, errNoAccount
	}
	// Even a first enrolment needs the password: a stolen session that
	// could add its own authenticator would lock the owner out.
	u, err := s.reauthenticate(ctx, a.UserID, password, code)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Gonaut", AccountName: u.Email})
	if err != nil {
		return TOTPEnrolment{}, err
	}
	if err := s.st.SetTOTPPending(ctx, u.ID, s.box.seal(purposeTOTP, u.ID, key.Secret())); err != nil {
		return TOTPEnrolment{}, fromStore(err)
	}
	return TOTPEnrolment{Secret: key.Secret(), URL: key.URL()}, nil
}

// ConfirmTOTP makes the pending enrolment the actor's second factor once
// code shows the authenticator has its secret, and returns ten new
// recovery codes (the old ones stop working). Replacing a factor is
// audited as mfa.reset, a first one as mfa.enrol.
func (s *Service) ConfirmTOTP(ctx context.Context, a Actor, code string) ([]string, error) {
	if !a.isUser() {
		return nil, errNoAccount
	}
	u, err := s.st.User(ctx, a.UserID)
	if err != nil {
		return nil, fromStore(err)
	}
	pending, err := s.st.TOTPPending(ctx, a.UserID)
	if err != nil {
		return nil, fromStore(err)
	}
	if pending == "" {
		return nil, Invalid("", "start TOTP enrolment first")
	}
	secret, err := s.box.open(purposeTOTP, a.UserID, pending)
	if err != nil {
		return nil, err
	}
	step, ok := matchTOTP(secret, strings.TrimSpace(code), s.now())
	if !ok {
		return nil, Invalid("", "the code does not match; check the device's clock")
	}
	codes := recoveryCodes(10)
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = TokenHash(c)
	}
	if err := s.st.ConfirmTOTP(ctx, a.UserID, pending, step, hashes); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, Invalid("", "a newer enrolment was started; confirm that one")
		}
		return nil, fromStore(err)
	}
	action := "mfa.enrol"
	if u.TOTPEnabled {
		action = "mfa.reset"
	}
	s.record(ctx, Actor{ID: a.UserID}, action, "", "", nil)
	return codes, nil
}

// DisableTOTP turns the actor's second factor off after
// re-authentication.
func (s *Service) DisableTOTP(ctx context.Context, a Actor, password, code string) error {
	if !a.isUser() {
		return errNoAccount
	}
	u, err := s.st.User(ctx, a.UserID)
	if err != nil {
		return fromStore(err)
	}
	if !u.TOTPEnabled {
		return Invalid("", "two-factor authentication is not on")
	}
	if _, err := s.reauthenticate(ctx, a.UserID, password, code); err != nil {
		return err
	}
	if err := s.st.DisableTOTP(ctx, a.UserID); err != nil {
		return fromStore(err)
	}
	s.record(ctx, Actor{ID: a.UserID}, "mfa.disable", "", "", nil)
	return nil
}

// ResetMFA turns the second factor of the user with this email off and
// ends the user's sessions, for an operator at the console's host: a user
// who lost both authenticator and recovery codes, or a database whose
// secret key is lost (ResetAllMFA). It needs no secret key.
func (s *Service) ResetMFA(ctx context.Context, a Actor, email string) error {
	u, err := s.st.UserByEmail(ctx, email)
	if err != nil {
		return fmt.Errorf("console: user %s: %w", email, fromStore(err))
	}
	return s.resetMFA(ctx, a, u)
}

// ResetAllMFA turns off the second factor of every user who has one and
// returns how many there were.
func (s *Service) ResetAllMFA(ctx context.Context, a Actor) (int, error) {
	n, after := 0, ""
	for {
		us, err := s.st.ListUsers(ctx, store.ListOptions{After: after, Limit: 1000})
		if err != nil {
			return n, err
		}
		for i := range us {
			if us[i].TOTPEnabled || us[i].TOTPSecret != "" {
				if err := s.resetMFA(ctx, a, &us[i]); err != nil {
					return n, err
				}
				n++
			}
		}
		if len(us) < 1000 {
			return n, nil
		}
		after = us[len(us)-1].ID
	}
}

func (s *Service) resetMFA(ctx context.Context, a Actor, u *store.User) error {
	if err := s.st.DisableTOTP(ctx, u.ID); err != nil {
		return err
	}
	if err := s.st.DeleteUserSessions(ctx, u.ID); err != nil {
		return err
	}
	s.record(ctx, a, "mfa.reset", u.Email, "", nil)
	return nil
}

// SealStoredSecrets, run at start with a configured key, seals every TOTP
// secret stored before secrets were sealed, and refuses to start when one
// was sealed under another key: the wrong key file would otherwise lock
// every user with an authenticator out, one confusing login at a time.
// With a throwaway key (no Options.SecretKey) it does nothing.
func (s *Service) SealStoredSecrets(ctx context.Context) error {
	if s.ephemeralKey {
		return nil
	}
	after := ""
	for {
		us, err := s.st.ListUsers(ctx, store.ListOptions{After: after, Limit: 1000})
		if err != nil {
			return fmt.Errorf("console: sealing TOTP secrets: %w", err)
		}
		for _, u := range us {
			if u.TOTPSecret == "" {
				continue
			}
			if !IsSealed(u.TOTPSecret) {
				if _, err := s.st.ReplaceTOTPSecret(ctx, u.ID, u.TOTPSecret, s.box.seal(purposeTOTP, u.ID, u.TOTPSecret)); err != nil {
					return fmt.Errorf("console: sealing the TOTP secret of %s: %w", u.ID, err)
				}
				continue
			}
			// A damaged value fails that one login with a clear error;
			// only a foreign key, which fails them all, stops the start.
			if _, err := s.box.open(purposeTOTP, u.ID, u.TOTPSecret); err != nil && !errors.Is(err, errDamaged) {
				return err
			}
		}
		if len(us) < 1000 {
			return nil
		}
		after = us[len(us)-1].ID
	}
}

package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
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
	totpPeriod = 30
	// purposeTOTP is the sealing purpose of TOTP secrets.
	purposeTOTP = "totp secret"
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// errReauth refuses a credential change whose password or code is wrong.
var errReauth = errors.New("console: wrong password or code")

func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// matchTOTP returns the time step near now (one step of skew either way)
// whose code for secret is code.
func matchTOTP(secret, code string, now time.Time) (int64, bool) {
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return 0, false
	}
	cur := totpStep(now)
	for step := cur - 1; step <= cur+1; step++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totpOpts)
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
func (s *Server) totpSecret(ctx context.Context, u *store.User) (string, error) {
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
func (s *Server) secondFactor(ctx context.Context, u *store.User, code string) (bool, error) {
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
	return s.st.UseRecoveryCode(ctx, u.ID, tokenHash(strings.ToLower(code)))
}

// reauthenticate checks, before a change to u's credentials, that the
// caller knows u's password now and, when u has a second factor, a
// current code of it (or a recovery code, which is used up). Attempts
// count against the user's re-authentication throttle, so that a stolen
// session cannot guess the password quickly.
func (s *Server) reauthenticate(ctx context.Context, u *store.User, password, code string) error {
	if !s.reauth.allow(u.ID, s.now()) {
		return errThrottled
	}
	// Re-read: the password or the factor may have changed since the
	// request's session was checked.
	cur, err := s.st.User(ctx, u.ID)
	if err != nil {
		return err
	}
	if !CheckPassword(cur.PasswordHash, password) {
		s.audit(ctx, cur.ID, "reauth.failed", "", "", nil)
		return errReauth
	}
	if cur.TOTPEnabled {
		ok, err := s.secondFactor(ctx, cur, code)
		if err != nil {
			return err
		}
		if !ok {
			s.audit(ctx, cur.ID, "reauth.failed", "", "", nil)
			return errReauth
		}
	}
	return nil
}

// credentialError answers a refused credential change.
func (s *Server) credentialError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, errReauth):
		w.Header().Set("X-Gonaut-Refusal", "reauth")
		writeError(w, http.StatusForbidden, "reauth_failed", "give your current password and, with two-factor authentication on, a current code")
	case errors.Is(err, errThrottled):
		writeError(w, http.StatusTooManyRequests, "throttled", "too many attempts; wait a little")
	default:
		s.storeError(w, err)
	}
}

type totpStart struct {
	Secret string `json:"secret"`
	URL    string `json:"url"`
	QR     string `json:"qr_png_base64"`
}

// reauthRequest proves a recent authentication: the password and, with
// two-factor authentication on, a current TOTP or recovery code.
type reauthRequest struct {
	Password string `json:"password"`
	Code     string `json:"code"`
}

func (s *Server) apiTOTPStart(w http.ResponseWriter, r *http.Request, p *principal) {
	var req reauthRequest
	if r.ContentLength != 0 && !decode(w, r, &req) {
		return
	}
	ts, err := s.startTOTP(r.Context(), p, req.Password, req.Code)
	if err != nil {
		s.credentialError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ts)
}

// startTOTP makes a new secret the user's pending enrolment. The secret
// in use, if any, stays in use until the new one is confirmed. It needs
// re-authentication: the password, and a current code when a factor is
// already enrolled.
func (s *Server) startTOTP(ctx context.Context, p *principal, password, code string) (*totpStart, error) {
	if p.user == nil {
		return nil, errString("TOTP is for user accounts")
	}
	// Even a first enrolment needs the password: a stolen session that
	// could add its own authenticator would lock the owner out.
	if err := s.reauthenticate(ctx, p.user, password, code); err != nil {
		return nil, err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Gonaut", AccountName: p.user.Email})
	if err != nil {
		return nil, err
	}
	if err := s.st.SetTOTPPending(ctx, p.user.ID, s.box.seal(purposeTOTP, p.user.ID, key.Secret())); err != nil {
		return nil, err
	}
	qr, _ := qrPNG(key.URL(), 256)
	return &totpStart{Secret: key.Secret(), URL: key.URL(), QR: qr}, nil
}

type codeRequest struct {
	Code string `json:"code"`
}

type recoveryAnswer struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

func (s *Server) apiTOTPConfirm(w http.ResponseWriter, r *http.Request, p *principal) {
	var req codeRequest
	if !decode(w, r, &req) {
		return
	}
	codes, err := s.confirmTOTP(r.Context(), p, req.Code)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, recoveryAnswer{RecoveryCodes: codes})
}

// confirmTOTP makes the pending enrolment the user's second factor once
// code shows the authenticator has its secret, and returns ten new
// recovery codes (the old ones stop working).
func (s *Server) confirmTOTP(ctx context.Context, p *principal, code string) ([]string, error) {
	if p.user == nil {
		return nil, errString("TOTP is for user accounts")
	}
	pending, err := s.st.TOTPPending(ctx, p.user.ID)
	if err != nil {
		return nil, err
	}
	if pending == "" {
		return nil, errString("start TOTP enrolment first")
	}
	secret, err := s.box.open(purposeTOTP, p.user.ID, pending)
	if err != nil {
		return nil, err
	}
	step, ok := matchTOTP(secret, strings.TrimSpace(code), s.now())
	if !ok {
		return nil, errString("the code does not match; check the device's clock")
	}
	codes := recoveryCodes(10)
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = tokenHash(c)
	}
	if err := s.st.ConfirmTOTP(ctx, p.user.ID, pending, step, hashes); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, errString("a newer enrolment was started; confirm that one")
		}
		return nil, err
	}
	action := "mfa.enrol"
	if p.user.TOTPEnabled {
		action = "mfa.reset"
	}
	s.audit(ctx, p.user.ID, action, "", "", nil)
	return codes, nil
}

func (s *Server) apiTOTPDisable(w http.ResponseWriter, r *http.Request, p *principal) {
	var req reauthRequest
	if !decode(w, r, &req) {
		return
	}
	if err := s.disableTOTP(r.Context(), p, req.Password, req.Code); err != nil {
		s.credentialError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// disableTOTP turns the user's second factor off after re-authentication.
func (s *Server) disableTOTP(ctx context.Context, p *principal, password, code string) error {
	if p.user == nil {
		return errString("TOTP is for user accounts")
	}
	if !p.user.TOTPEnabled {
		return errString("two-factor authentication is not on")
	}
	if err := s.reauthenticate(ctx, p.user, password, code); err != nil {
		return err
	}
	if err := s.st.DisableTOTP(ctx, p.user.ID); err != nil {
		return err
	}
	s.audit(ctx, p.user.ID, "mfa.disable", "", "", nil)
	return nil
}

// sealStoredSecrets, run at start with a configured key, seals every TOTP
// secret stored before secrets were sealed, and refuses to start when one
// was sealed under another key: the wrong key file would otherwise lock
// every user with an authenticator out, one confusing login at a time.
func (s *Server) sealStoredSecrets(ctx context.Context) error {
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
			if !isSealed(u.TOTPSecret) {
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

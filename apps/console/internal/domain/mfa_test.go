package domain

import (
	"errors"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

func TestTOTPEnrolment(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s, st := newService(t, Options{Now: func() time.Time { return now }})
	u, err := s.CreateUser(bg, System, NewUser{Email: "ann@example.com", Role: RoleViewer, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	ann := Actor{ID: u.ID, UserID: u.ID, Role: RoleViewer}
	var invalid *InvalidError
	if _, err := s.ConfirmTOTP(bg, ann, "123456"); !errors.As(err, &invalid) {
		t.Errorf("confirm before start: %v", err)
	}
	if err := s.DisableTOTP(bg, ann, "correct horse battery", ""); !errors.As(err, &invalid) {
		t.Errorf("disable while off: %v", err)
	}
	if _, err := s.StartTOTP(bg, Actor{ID: "apikey:k", UserID: u.ID, Role: RoleViewer}, "correct horse battery", ""); !errors.As(err, &invalid) {
		t.Errorf("an API key enrols: %v", err)
	}
	if _, err := s.StartTOTP(bg, ann, "wrong wrong wrong", ""); !errors.Is(err, ErrReauth) {
		t.Errorf("start with a wrong password: %v", err)
	}
	e, err := s.StartTOTP(bg, ann, "correct horse battery", "")
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCodeCustom(e.Secret, now, totpOpts)
	codes, err := s.ConfirmTOTP(bg, ann, code)
	if err != nil || len(codes) != 10 {
		t.Fatalf("confirm: %v %v", codes, err)
	}
	row, _ := st.User(bg, u.ID)
	if !row.TOTPEnabled || !IsSealed(row.TOTPSecret) {
		t.Errorf("after confirm: enabled %v, secret sealed %v", row.TOTPEnabled, IsSealed(row.TOTPSecret))
	}
	if n, m := len(audited(t, st, "mfa.enrol")), len(audited(t, st, "reauth.failed")); n != 1 || m != 1 {
		t.Errorf("audited %d enrolments and %d failed re-authentications, want one each", n, m)
	}
	// A recovery code works once, at sign-in.
	in := Login{Email: "ann@example.com", Password: "correct horse battery", Code: codes[0], Source: "192.0.2.1"}
	if si, err := s.Login(bg, in); err != nil || !si.Session.MFA {
		t.Fatalf("recovery code: %+v %v", si, err)
	}
	if _, err := s.Login(bg, in); !errors.Is(err, ErrLoginFailed) {
		t.Errorf("a recovery code twice: %v", err)
	}
	if err := s.ResetMFA(bg, System, "ghost@example.com"); !errors.Is(err, ErrNotFound) {
		t.Errorf("reset an unknown user: %v", err)
	}
	if n, err := s.ResetAllMFA(bg, System); err != nil || n != 1 {
		t.Errorf("reset all: %d %v", n, err)
	}
	if es := audited(t, st, "mfa.reset"); len(es) != 1 || es[0].Actor != "system" || es[0].Resource != "ann@example.com" {
		t.Errorf("mfa.reset audited %+v", es)
	}
}

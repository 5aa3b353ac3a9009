package domain

import (
	"errors"
	"testing"
	"time"
)

func TestLogin(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s, st := newService(t, Options{Now: func() time.Time { return now }, BackoffAfter: 2, BackoffBase: time.Minute})
	u, err := s.CreateUser(bg, System, NewUser{Email: "ann@example.com", Role: RoleViewer, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	wrong := Login{Email: "ann@example.com", Password: "wrong wrong wrong", Source: "192.0.2.1"}
	for range 2 {
		if _, err := s.Login(bg, wrong); !errors.Is(err, ErrLoginFailed) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	// Backed off from this source, not from another.
	right := wrong
	right.Password = "correct horse battery"
	if _, err := s.Login(bg, right); !errors.Is(err, ErrLoginFailed) {
		t.Errorf("backed-off source signed in: %v", err)
	}
	es := audited(t, st, "login.failed")
	if len(es) != 3 || es[0].Actor != u.ID || detail(t, es[0])["reason"] != "backoff" || detail(t, es[2])["reason"] != "password" {
		t.Errorf("failures audited %+v", es)
	}
	right.Source = "198.51.100.7"
	si, err := s.Login(bg, right)
	if err != nil || si.User.ID != u.ID || si.Token == "" || si.Session.ID != TokenHash(si.Token) || si.Session.MFA {
		t.Fatalf("sign-in: %+v %v", si, err)
	}
	if es := audited(t, st, "login"); len(es) != 1 || es[0].Actor != u.ID || detail(t, es[0])["source"] != "198.51.100.7" {
		t.Errorf("login audited %+v", es)
	}
	se, su, err := s.Session(bg, si.Token)
	if err != nil || se.ID != si.Session.ID || su.ID != u.ID || se.CSRFHash != TokenHash(CSRFToken(si.Token)) {
		t.Errorf("session: %+v %+v %v", se, su, err)
	}
	// Rotation: a new sign-in ends the session the browser had.
	right.Replaces = si.Token
	if _, err := s.Login(bg, right); err != nil {
		t.Fatal(err)
	}
	var unauth *UnauthorizedError
	if _, _, err := s.Session(bg, si.Token); !errors.As(err, &unauth) {
		t.Errorf("the replaced session still works: %v", err)
	}
	if _, err := s.Login(bg, Login{Email: "ghost@example.com", Password: "x", Source: "192.0.2.9"}); !errors.Is(err, ErrLoginFailed) {
		t.Errorf("unknown account: %v", err)
	}
}

func TestChangePassword(t *testing.T) {
	s, st := newService(t, Options{})
	u, err := s.CreateUser(bg, System, NewUser{Email: "ann@example.com", Role: RoleViewer, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	ann := Actor{ID: u.ID, UserID: u.ID, Role: RoleViewer}
	var invalid *InvalidError
	if err := s.ChangePassword(bg, Actor{ID: "apikey:k", UserID: u.ID, Role: RoleViewer}, "correct horse battery", "a new good password", ""); !errors.As(err, &invalid) {
		t.Errorf("an API key changes a password: %v", err)
	}
	if err := s.ChangePassword(bg, ann, "wrong wrong wrong", "a new good password", ""); !errors.Is(err, ErrReauth) {
		t.Errorf("wrong current password: %v", err)
	}
	if err := s.ChangePassword(bg, ann, "correct horse battery", "a new good password", ""); err != nil {
		t.Fatal(err)
	}
	if n, m := len(audited(t, st, "password.change.failed")), len(audited(t, st, "password.change")); n != 1 || m != 1 {
		t.Errorf("audited %d failures and %d changes, want one each", n, m)
	}
	if _, err := s.Login(bg, Login{Email: "ann@example.com", Password: "a new good password", Source: "192.0.2.1"}); err != nil {
		t.Errorf("the new password: %v", err)
	}
}

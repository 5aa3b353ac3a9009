package domain

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

var admin = Actor{ID: "u_admin", UserID: "u_admin", Role: RoleAdmin}

func TestCreateUser(t *testing.T) {
	s, st := newService(t, Options{})
	for _, c := range []struct {
		in    NewUser
		field string
	}{
		{NewUser{Email: "a@example.com", Role: RoleViewer, Password: "short"}, "password"},
		{NewUser{Email: "not an email", Role: RoleViewer, Password: "correct horse battery"}, "email"},
		{NewUser{Email: "a@example.com", Role: "root", Password: "correct horse battery"}, "role"},
		{NewUser{Email: "a@example.com", Name: " Ann", Role: RoleViewer, Password: "correct horse battery"}, "name"},
	} {
		_, err := s.CreateUser(bg, admin, c.in)
		var invalid *InvalidError
		if !errors.As(err, &invalid) || invalid.Field != c.field {
			t.Errorf("CreateUser(%+v) = %v, want invalid %s", c.in, err, c.field)
		}
	}
	if n := len(audited(t, st, "user.create")); n != 0 {
		t.Fatalf("refused creations audited %d times", n)
	}

	u, err := s.CreateUser(bg, admin, NewUser{Email: "ann@example.com", Name: "Ann", Role: RoleOperator, Groups: []string{"eng"}, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == "" || u.Email != "ann@example.com" || u.Role != RoleOperator || len(u.Groups) != 1 {
		t.Errorf("created %+v", u)
	}
	row, err := st.User(bg, u.ID)
	if err != nil || !CheckPassword(row.PasswordHash, "correct horse battery") {
		t.Errorf("stored password does not check: %v", err)
	}
	es := audited(t, st, "user.create")
	if len(es) != 1 || es[0].Actor != admin.ID || es[0].Resource != "ann@example.com" || detail(t, es[0])["role"] != "operator" {
		t.Fatalf("audit %+v", es)
	}

	_, err = s.CreateUser(bg, admin, NewUser{Email: "ann@example.com", Role: RoleViewer, Password: "correct horse battery"})
	var conflict *ConflictError
	if !errors.As(err, &conflict) || conflict.Field != "email" {
		t.Errorf("a second ann: %v, want a conflict on email", err)
	}
	if n := len(audited(t, st, "user.create")); n != 1 {
		t.Errorf("user.create audited %d times, want once", n)
	}
}

func TestUpdateUser(t *testing.T) {
	s, st := newService(t, Options{})
	u, err := s.CreateUser(bg, System, NewUser{Email: "bob@example.com", Role: RoleViewer, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(bg, admin, "u_nobody", UserPatch{Disabled: new(true)}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	var invalid *InvalidError
	if _, err := s.UpdateUser(bg, admin, u.ID, UserPatch{Role: new(Role("root"))}); !errors.As(err, &invalid) || invalid.Field != "role" {
		t.Errorf("bad role: %v", err)
	}
	if _, err := s.UpdateUser(bg, admin, u.ID, UserPatch{Password: new("short")}); !errors.As(err, &invalid) || invalid.Field != "password" {
		t.Errorf("short password: %v", err)
	}
	got, err := s.UpdateUser(bg, admin, u.ID, UserPatch{Disabled: new(true), Password: new("another good password")})
	if err != nil || !got.Disabled {
		t.Fatalf("disable: %+v %v", got, err)
	}
	es := audited(t, st, "user.update")
	if len(es) != 1 {
		t.Fatalf("user.update audited %d times, want once", len(es))
	}
	if d := detail(t, es[0]); d["disabled"] != true || d["password"] != "(changed)" || es[0].Actor != admin.ID || es[0].Resource != u.Email {
		t.Errorf("audit %+v %v", es[0], d)
	}
	if strings.Contains(string(es[0].Detail), "another good password") {
		t.Error("the audit log holds the password")
	}
}

// FuzzEmail: emails the check accepts are within its documented limits.
func FuzzEmail(f *testing.F) {
	for _, s := range []string{"ann@example.com", "a@b@c", "@x", "a b@c", "", "\xff@x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validEmail(s) == nil {
			if len(s) > maxEmailLen || strings.Count(s, "@") != 1 || strings.HasPrefix(s, "@") || strings.HasSuffix(s, "@") || strings.ContainsAny(s, " \t\n\r\x00") || !utf8.ValidString(s) {
				t.Fatalf("validEmail accepted %q", s)
			}
		}
	})
}

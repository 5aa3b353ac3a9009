package domain

import (
	"errors"
	"testing"
)

func TestChangeRole(t *testing.T) {
	s, st := newService(t, Options{})
	ada, err := s.CreateUser(bg, System, NewUser{Email: "ada@example.com", Role: RoleAdmin, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	var invalid *InvalidError
	if _, err := s.ChangeRole(bg, admin, ada.ID, "root"); !errors.As(err, &invalid) || invalid.Field != "role" {
		t.Errorf("unknown role: %v", err)
	}
	if _, err := s.ChangeRole(bg, admin, "ghost@example.com", RoleViewer); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	var conflict *ConflictError
	if _, err := s.ChangeRole(bg, admin, "ada@example.com", RoleViewer); !errors.As(err, &conflict) || conflict.Field != "role" {
		t.Errorf("demoting the last admin: %v", err)
	}
	if _, err := s.CreateUser(bg, System, NewUser{Email: "bob@example.com", Role: RoleAdmin, Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	u, err := s.ChangeRole(bg, admin, "ada@example.com", RoleAuditor)
	if err != nil || u.Role != RoleAuditor {
		t.Fatalf("demote: %+v %v", u, err)
	}
	es := audited(t, st, "user.role")
	if len(es) != 1 || es[0].Resource != "ada@example.com" || detail(t, es[0])["from"] != "admin" || detail(t, es[0])["to"] != "auditor" {
		t.Errorf("audit %+v", es)
	}
}

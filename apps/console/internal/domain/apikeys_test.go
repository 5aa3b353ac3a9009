package domain

import (
	"errors"
	"strings"
	"testing"
)

func TestCreateAPIKey(t *testing.T) {
	covers := func(holder, role Role) bool { return holder == RoleAdmin || holder == role }
	s, st := newService(t, Options{Covers: covers})
	ann := Actor{ID: "u_ann", UserID: "u_ann", Role: RoleOperator}
	var invalid *InvalidError
	for _, c := range []struct {
		in    NewAPIKey
		field string
	}{
		{NewAPIKey{Role: RoleOperator}, "name"},
		{NewAPIKey{Name: "ci", Role: RoleOperator, ExpiresInDays: MaxAPIKeyDays + 1}, "expires_in_days"},
		{NewAPIKey{Name: "ci", Role: "root"}, "role"},
	} {
		if _, _, err := s.CreateAPIKey(bg, ann, c.in); !errors.As(err, &invalid) || invalid.Field != c.field {
			t.Errorf("CreateAPIKey(%+v) = %v, want invalid %s", c.in, err, c.field)
		}
	}
	if _, _, err := s.CreateAPIKey(bg, ann, NewAPIKey{Name: "ci", Role: RoleAdmin}); !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "owner's role") {
		t.Errorf("a key above its owner: %v", err)
	}
	k, secret, err := s.CreateAPIKey(bg, ann, NewAPIKey{Name: "ci", Role: RoleOperator, ExpiresInDays: 7})
	if err != nil || k.Owner != "u_ann" || !strings.HasPrefix(secret, "gk_"+k.ID+".") {
		t.Fatalf("create: %+v %q %v", k, secret, err)
	}
	es := audited(t, st, "apikey.create")
	if len(es) != 1 || es[0].Actor != ann.ID || es[0].Resource != "ci" || detail(t, es[0])["owner"] != "u_ann" || detail(t, es[0])["role"] != "operator" {
		t.Fatalf("audit %+v", es)
	}
	// A key the key makes lives no longer than it.
	child, _, err := s.CreateAPIKey(bg, Actor{ID: "apikey:" + k.ID, UserID: "u_ann", Role: RoleOperator}, NewAPIKey{Name: "child", Role: RoleOperator, ExpiresInDays: MaxAPIKeyDays})
	if err != nil || child.Expires.After(k.Expires) || child.Owner != "u_ann" {
		t.Errorf("child key %+v (parent expires %v): %v", child, k.Expires, err)
	}
}

func TestRevokeOwnAPIKey(t *testing.T) {
	s, st := newService(t, Options{})
	ann := Actor{ID: "u_ann", UserID: "u_ann", Role: RoleAdmin}
	bob := Actor{ID: "u_bob", UserID: "u_bob", Role: RoleAdmin}
	k, _, err := s.CreateAPIKey(bg, ann, NewAPIKey{Name: "ci", Role: RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeOwnAPIKey(bg, bob, k.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("bob revokes ann's key: %v", err)
	}
	if got, err := s.RevokeOwnAPIKey(bg, ann, k.ID); err != nil || got.ID != k.ID {
		t.Fatalf("revoke: %+v %v", got, err)
	}
	if es := audited(t, st, "apikey.revoke"); len(es) != 1 || es[0].Resource != k.ID || es[0].Actor != ann.ID {
		t.Errorf("audit %+v", es)
	}
	if err := s.RevokeAPIKey(bg, ann, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoke unknown: %v", err)
	}
}

// FuzzParseScope: a scope parses to one that prints back to itself and
// is covered by the unscoped key, or is refused.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"", "read", "devices", "read:devices", "read:", "write:devices", "readdevices"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		sc, err := ParseScope(v)
		if err != nil {
			return
		}
		again, err := ParseScope(sc.String())
		if err != nil || again != sc {
			t.Fatalf("%q: %+v prints %q, which reads %+v, %v", v, sc, sc.String(), again, err)
		}
		if !(Scope{}).Covers(sc) || !sc.Covers(sc) {
			t.Fatalf("%q: coverage of %+v", v, sc)
		}
	})
}

package domain

import (
	"context"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// TestDisplayNames resolves ids to names, leaves unknown ids as they
// are, and keeps what it looked up for nameTTL.
func TestDisplayNames(t *testing.T) {
	s, st := newInsightService(t, Options{})
	ctx := context.Background()
	u := &store.User{Email: "ann@example.com", Role: RoleViewer}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	n := s.DisplayNames(ctx, auditor, []string{u.ID, "u_nobody", ""})
	if n.Of(u.ID) != "ann@example.com" || n.Title(u.ID) != u.ID || n.Of("u_nobody") != "u_nobody" || n.Title("u_nobody") != "" {
		t.Errorf("names %v", n)
	}
	u.Email = "ann.b@example.com"
	if err := st.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if n := s.DisplayNames(ctx, auditor, []string{u.ID}); n.Of(u.ID) != "ann@example.com" {
		t.Errorf("a cached name was looked up again: %v", n)
	}
	e := AuditEntry{Actor: u.ID, Detail: []byte(`{"device":"d_1"}`)}
	if e.Device() != "d_1" || (AuditEntry{Detail: []byte(`{"device":5}`)}).Device() != "" {
		t.Error("AuditEntry.Device")
	}
}

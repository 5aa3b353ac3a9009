package domain

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// A tenant's admin grants support access for a while; the platform's
// admins read the tenant with the granted role until it ends or is
// revoked; the grant, the first visit and the revocation are in both
// audit logs; nobody else can grant or use it.
func TestSupportAccess(t *testing.T) {
	root := storetest.SQLite(t)
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	p, err := NewPlatform(root, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	platform := Actor{ID: "u1", UserID: "u1", Role: RoleAdmin, Name: "ann@example.com"}
	if _, err := p.CreateTenant(bg, platform, NewTenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	acmeAdmin := Actor{ID: "a1", UserID: "a1", Role: RoleAdmin, Tenant: "acme", Name: "bob@acme.example"}

	if _, _, err := p.SupportAccess(bg, platform, "acme"); !errors.Is(err, ErrNoSupportGrant) {
		t.Fatalf("support without a grant: %v", err)
	}
	if _, err := p.GrantSupport(bg, Actor{ID: "a2", Role: RoleOperator, Tenant: "acme"}, RoleAuditor, time.Hour); !errors.Is(err, ErrForbidden) {
		t.Errorf("an operator grants support: %v", err)
	}
	var ce *ConflictError
	if _, err := p.GrantSupport(bg, platform, RoleAuditor, time.Hour); !errors.As(err, &ce) {
		t.Errorf("the platform's tenant grants support: %v", err)
	}
	var ie *InvalidError
	if _, err := p.GrantSupport(bg, acmeAdmin, RoleAdmin, time.Hour); !errors.As(err, &ie) || ie.Field != "role" {
		t.Errorf("admin support granted: %v", err)
	}
	if _, err := p.GrantSupport(bg, acmeAdmin, RoleAuditor, 30*24*time.Hour); !errors.As(err, &ie) || ie.Field != "duration" {
		t.Errorf("a month of support granted: %v", err)
	}
	g, err := p.GrantSupport(bg, acmeAdmin, RoleAuditor, time.Hour)
	if err != nil || !g.Until.Equal(now.Add(time.Hour)) {
		t.Fatalf("grant %+v, %v", g, err)
	}
	if got, _ := p.SupportGrant(bg, acmeAdmin); got != g {
		t.Errorf("grant read back %+v", got)
	}

	// Only the platform's admins use it.
	if _, _, err := p.SupportAccess(bg, Actor{ID: "u2", Role: RoleAuditor}, "acme"); !errors.Is(err, ErrForbidden) {
		t.Errorf("a platform auditor uses support: %v", err)
	}
	if _, _, err := p.SupportAccess(bg, Actor{ID: "x", Role: RoleAdmin, Tenant: "other"}, "acme"); !errors.Is(err, ErrForbidden) {
		t.Errorf("another tenant's admin uses support: %v", err)
	}
	for range 3 {
		s, role, err := p.SupportAccess(bg, platform, "acme")
		if err != nil || role != RoleAuditor || s.TenantID() != "acme" {
			t.Fatalf("support: %v %s %v", s, role, err)
		}
	}
	now = now.Add(time.Hour)
	if _, _, err := p.SupportAccess(bg, platform, "acme"); !errors.Is(err, ErrNoSupportGrant) {
		t.Errorf("support after its end: %v", err)
	}
	if got, _ := p.SupportGrant(bg, acmeAdmin); got.Role != "" {
		t.Errorf("an ended grant read back %+v", got)
	}
	if _, err := p.GrantSupport(bg, acmeAdmin, RoleViewer, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := p.RevokeSupport(bg, acmeAdmin); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.SupportAccess(bg, platform, "acme"); !errors.Is(err, ErrNoSupportGrant) {
		t.Errorf("support after revocation: %v", err)
	}

	acme, _ := p.Service(bg, "acme")
	want := []string{"support.grant a1", "support.access platform:u1", "support.grant a1", "support.revoke a1"}
	if got := supportEntries(t, acme); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("acme's log: %v, want %v", got, want)
	}
	want = []string{"support.grant acme:a1", "support.access u1", "support.grant acme:a1", "support.revoke acme:a1"}
	if got := supportEntries(t, p.Default()); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("platform's log: %v, want %v", got, want)
	}
}

func supportEntries(t *testing.T, s *Service) []string {
	t.Helper()
	evs, err := s.st.ListAudit(bg, store.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(evs) - 1; i >= 0; i-- {
		if strings.HasPrefix(evs[i].Action, "support.") {
			out = append(out, evs[i].Action+" "+evs[i].Actor)
		}
	}
	return out
}

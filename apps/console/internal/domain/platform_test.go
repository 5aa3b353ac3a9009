package domain

import (
	"errors"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// Only the default tenant's admins administer tenants; a tenant's
// Service reaches only its own store; a suspended tenant is refused and
// can then be deleted; every step is in the platform's audit log and in
// the tenant's own.
func TestPlatformTenants(t *testing.T) {
	root := storetest.SQLite(t)
	p, err := NewPlatform(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	admin := Actor{ID: "u1", UserID: "u1", Role: RoleAdmin, Name: "ann@example.com"}
	for _, a := range []Actor{
		{ID: "u2", Role: RoleOperator},
		{ID: "u3", Role: RoleAdmin, Tenant: "acme"}, // a tenant's admin is not the platform's
	} {
		if _, err := p.CreateTenant(bg, a, NewTenant{ID: "evil", Name: "Evil"}); !errors.Is(err, ErrForbidden) {
			t.Errorf("%+v creates a tenant: %v", a, err)
		}
		if _, err := p.ListTenants(bg, a); !errors.Is(err, ErrForbidden) {
			t.Errorf("%+v lists tenants: %v", a, err)
		}
	}
	var ie *InvalidError
	if _, err := p.CreateTenant(bg, admin, NewTenant{ID: "Bad-Id", Name: "x"}); !errors.As(err, &ie) || ie.Field != "id" {
		t.Errorf("bad id: %v", err)
	}
	if _, err := p.CreateTenant(bg, admin, NewTenant{ID: "acme", Name: "Acme", Quotas: store.Quotas{Devices: 10}}); err != nil {
		t.Fatal(err)
	}
	var ce *ConflictError
	if _, err := p.CreateTenant(bg, admin, NewTenant{ID: "acme", Name: "Acme again"}); !errors.As(err, &ce) || ce.Field != "id" {
		t.Errorf("taken id: %v", err)
	}

	acme, err := p.Service(bg, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if acme == p.Default() {
		t.Fatal("acme's Service is the default one")
	}
	if again, _ := p.Service(bg, "acme"); again != acme {
		t.Error("a second lookup made a second Service")
	}
	if _, _, err := acme.CreateGateway(bg, Actor{ID: "apikey:k", Role: RoleAdmin, Tenant: "acme"}, NewGateway{Name: "edge"}); err != nil {
		t.Fatal(err)
	}
	if gs, _ := p.Default().ListGateways(bg); len(gs) != 0 {
		t.Errorf("acme's gateway is in the default tenant: %+v", gs)
	}
	if _, err := p.Service(bg, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown tenant: %v", err)
	}

	ts, err := p.ListTenants(bg, admin)
	if err != nil || len(ts) != 2 || ts[1].ID != "acme" || ts[1].Usage.Gateways != 1 || ts[1].Quotas.Devices != 10 {
		t.Fatalf("tenants %+v, %v", ts, err)
	}

	if err := p.DeleteTenant(bg, admin, "acme"); !errors.As(err, &ce) || ce.Code != "not_suspended" {
		t.Errorf("deleting an active tenant: %v", err)
	}
	yes := true
	if _, err := p.UpdateTenant(bg, admin, "acme", TenantChange{Suspended: &yes}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Service(bg, "acme"); !errors.Is(err, ErrTenantSuspended) {
		t.Errorf("suspended tenant served: %v", err)
	}
	if _, err := p.UpdateTenant(bg, admin, DefaultTenant, TenantChange{Suspended: &yes}); err == nil {
		t.Error("the default tenant was suspended")
	}
	acmeStore, _ := root.Tenant(bg, "acme")
	if evs := audited(t, acmeStore, "tenant.update"); len(evs) != 1 || evs[0].Actor != "platform:u1" {
		t.Errorf("acme's log of its suspension: %+v", evs)
	}
	if err := p.DeleteTenant(bg, admin, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Service(bg, "acme"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted tenant served: %v", err)
	}
	for _, action := range []string{"tenant.create", "tenant.update", "tenant.delete"} {
		if evs := audited(t, root, action); len(evs) == 0 || evs[0].Actor != "u1" || evs[0].Resource != "acme" {
			t.Errorf("platform log of %s: %+v", action, evs)
		}
	}
}

// A suspension holds at once in the console that made it, and within
// tenantInfoTTL in another replica over the same store.
func TestSuspensionReachesReplicas(t *testing.T) {
	root := storetest.SQLite(t)
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	p1, _ := NewPlatform(root, Options{Now: clock})
	p2, _ := NewPlatform(root, Options{Now: clock})
	admin := Actor{ID: "u1", Role: RoleAdmin}
	if _, err := p1.CreateTenant(bg, admin, NewTenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p2.Service(bg, "acme"); err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := p1.UpdateTenant(bg, admin, "acme", TenantChange{Suspended: &yes}); err != nil {
		t.Fatal(err)
	}
	if _, err := p1.Service(bg, "acme"); !errors.Is(err, ErrTenantSuspended) {
		t.Errorf("the suspending console serves acme: %v", err)
	}
	if _, err := p2.Service(bg, "acme"); err != nil {
		t.Errorf("within its TTL the replica read acme afresh: %v", err)
	}
	now = now.Add(tenantInfoTTL)
	if _, err := p2.Service(bg, "acme"); !errors.Is(err, ErrTenantSuspended) {
		t.Errorf("the replica serves acme past the TTL: %v", err)
	}
}

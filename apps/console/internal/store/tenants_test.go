package store_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// eachRoot runs f on a fresh default-tenant store of each backend.
func eachRoot(t *testing.T, f func(t *testing.T, root *store.DB)) {
	t.Run("sqlite", func(t *testing.T) { f(t, storetest.SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, storetest.Postgres(t)) })
}

// Two tenants hold the same names, emails and settings without seeing
// each other's; an id from one is unknown in the other; each has its own
// audit chain and configuration version.
func TestTenantIsolation(t *testing.T) {
	eachRoot(t, func(t *testing.T, root *store.DB) {
		acme := storetest.Tenant(t, root, "acme")
		globex := storetest.Tenant(t, root, "globex")
		stores := map[string]*store.DB{"default": root, "acme": acme, "globex": globex}
		ids := map[string]string{}
		for name, s := range stores {
			u := &store.User{Email: "ann@example.com", Name: "Ann of " + name, Role: store.RoleAdmin, PasswordHash: "h"}
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			ids[name] = u.ID
			if err := s.PutGroup(ctx, store.Group{Name: "eng", Description: name}); err != nil {
				t.Fatal(err)
			}
			if err := s.SetSetting(ctx, "k", name); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.AppendAudit(ctx, []store.AuditEvent{{Actor: name, Action: "x", Resource: "r", EventID: "ev-1"}}); err != nil {
				t.Fatal(err)
			}
		}
		// The same event id in another tenant is not a duplicate: a
		// gateway of one tenant cannot suppress another's events.
		for name, s := range stores {
			if s.TenantID() != name {
				t.Errorf("TenantID = %q, want %q", s.TenantID(), name)
			}
			u, err := s.UserByEmail(ctx, "ann@example.com")
			if err != nil || u.Name != "Ann of "+name {
				t.Errorf("%s: UserByEmail = %+v, %v", name, u, err)
			}
			for other, id := range ids {
				if other == name {
					continue
				}
				if _, err := s.User(ctx, id); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("%s reads %s's user: %v", name, other, err)
				}
			}
			gs, _ := s.ListGroups(ctx)
			if len(gs) != 1 || gs[0].Description != name {
				t.Errorf("%s: groups %+v", name, gs)
			}
			if v, _ := s.Setting(ctx, "k"); v != name {
				t.Errorf("%s: setting %q", name, v)
			}
			ev, err := s.ListAudit(ctx, store.AuditFilter{})
			if err != nil || len(ev) != 1 || ev[0].Actor != name || ev[0].Seq != 1 {
				t.Errorf("%s: audit %+v, %v", name, ev, err)
			}
			if rep, err := s.VerifyAudit(ctx); err != nil || !rep.OK || rep.Entries != 1 {
				t.Errorf("%s: verify %+v, %v", name, rep, err)
			}
		}
		// A change in one tenant moves only its configuration version.
		va, _ := acme.ConfigVersion(ctx)
		vg, _ := globex.ConfigVersion(ctx)
		if err := acme.PutGroup(ctx, store.Group{Name: "ops"}); err != nil {
			t.Fatal(err)
		}
		if v, _ := acme.ConfigVersion(ctx); v <= va {
			t.Errorf("acme's version did not move")
		}
		if v, _ := globex.ConfigVersion(ctx); v != vg {
			t.Errorf("globex's version moved with acme's change")
		}

		ts, err := root.ListTenants(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, tn := range ts {
			got = append(got, tn.ID)
		}
		if !slices.Equal(got, []string{"default", "acme", "globex"}) {
			t.Errorf("tenants %v", got)
		}
		// Deleting a tenant deletes what it held; a new tenant of the
		// same id starts empty.
		if err := root.DeleteTenant(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		if _, err := root.Tenant(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted tenant opens: %v", err)
		}
		again := storetest.Tenant(t, root, "acme")
		if _, err := again.UserByEmail(ctx, "ann@example.com"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("re-created tenant holds the deleted one's user: %v", err)
		}
		if _, err := globex.UserByEmail(ctx, "ann@example.com"); err != nil {
			t.Errorf("deleting acme touched globex: %v", err)
		}
	})
}

// Tenant ids are checked where they enter, the default tenant cannot be
// removed or suspended, and an unknown tenant is not created by a lookup.
func TestTenantRules(t *testing.T) {
	eachRoot(t, func(t *testing.T, root *store.DB) {
		for _, id := range []string{"", "a", "default", "Acme", "ac-me", "ac_me", "1acme", `ac"me`, "../x", strings.Repeat("a", 31)} {
			if err := root.CreateTenant(ctx, &store.Tenant{ID: id, Name: "x"}); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("CreateTenant(%q) = %v, want ErrInvalid", id, err)
			}
		}
		if err := root.CreateTenant(ctx, &store.Tenant{ID: "acme", Name: " "}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("blank name: %v", err)
		}
		if err := root.CreateTenant(ctx, &store.Tenant{ID: "acme", Name: "Acme", Quotas: store.Quotas{Devices: -1}}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("negative quota: %v", err)
		}
		storetest.Tenant(t, root, "acme")
		if err := root.CreateTenant(ctx, &store.Tenant{ID: "acme", Name: "Acme"}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("taken id: %v", err)
		}
		if _, err := root.Tenant(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown tenant: %v", err)
		}
		if ts, _ := root.ListTenants(ctx); len(ts) != 2 {
			t.Errorf("a lookup created a tenant: %+v", ts)
		}
		if err := root.DeleteTenant(ctx, store.DefaultTenant); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("delete default: %v", err)
		}
		def, _ := root.TenantInfo(ctx, store.DefaultTenant)
		def.Suspended = true
		if err := root.UpdateTenant(ctx, def); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("suspend default: %v", err)
		}
		a, _ := root.TenantInfo(ctx, "acme")
		a.Suspended, a.Quotas.Devices = true, 5
		if err := root.UpdateTenant(ctx, a); err != nil {
			t.Fatal(err)
		}
		if b, _ := root.TenantInfo(ctx, "acme"); !b.Suspended || b.Quotas.Devices != 5 {
			t.Errorf("update lost: %+v", b)
		}
	})
}

// Every table the migrations create is one qualify knows, and no column
// is named like a table, so that every query of a tenant's PostgreSQL
// store names its own schema's tables.
func TestTenantTablesListed(t *testing.T) {
	s := storetest.Tenant(t, storetest.Postgres(t), "acme")
	rows, err := s.SQL().QueryContext(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	slices.Sort(tables)
	listed := store.TenantTables()
	slices.Sort(listed)
	if !slices.Equal(tables, listed) {
		t.Errorf("tables %v\nlisted %v", tables, listed)
	}
	rows, err = s.SQL().QueryContext(ctx, `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var tb, col string
		rows.Scan(&tb, &col)
		if slices.Contains(listed, col) {
			t.Errorf("column %s.%s is named like a table", tb, col)
		}
	}
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Tenants. Every organisation a console serves has a store of its own:
// a SQLite file, or a PostgreSQL schema in the one database, each
// migrated with the same migrations and holding the same tables. A
// tenant's *DB can only reach its own file or schema, so no query can
// forget the tenant: isolation is where the rows live, not a condition
// every query must repeat. Its audit log is its own hash chain with its
// own checkpoints, its settings and configuration version are its own.
//
// The default tenant is the store Open returns, exactly the single
// store of a console before tenants existed: an existing installation
// is its default tenant without any migration of its data. The list of
// tenants (the platform's table) lives beside it.

// DefaultTenant is the id of the tenant Open's store is.
const DefaultTenant = "default"

// A Tenant is one organisation the console serves.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Suspended bool      `json:"suspended"`
	Created   time.Time `json:"created"`
	// Quotas bound what the tenant may hold; zero means no limit.
	Quotas Quotas `json:"quotas"`
	// Support is the support access the tenant's admins granted the
	// platform's administrators; none when Until has passed.
	Support Support `json:"support"`
}

// Support is a time-boxed grant of a tenant's data to the platform's
// administrators, with a role no wider than Role.
type Support struct {
	Role      string    `json:"role,omitempty"`
	Until     time.Time `json:"until,omitzero"`
	GrantedBy string    `json:"granted_by,omitempty"`
}

// Active reports whether the grant is in force at now.
func (g Support) Active(now time.Time) bool { return g.Role != "" && now.Before(g.Until) }

// Quotas are a tenant's limits; zero means no limit.
type Quotas struct {
	Devices      int `json:"devices,omitempty"`
	Gateways     int `json:"gateways,omitempty"`
	Policies     int `json:"policies,omitempty"`
	EventsPerDay int `json:"events_per_day,omitempty"`
}

// tenantIDRe is a tenant id's grammar: it names a file and a PostgreSQL
// schema, so it is short, lower-case letters and digits only.
var tenantIDRe = regexp.MustCompile(`^[a-z][a-z0-9]{1,29}$`)

// ValidTenantID reports whether id is a tenant id's form.
func ValidTenantID(id string) bool { return tenantIDRe.MatchString(id) }

// Tenant is the store of tenant id, opened (and migrated) on first use;
// DefaultTenant's is s itself. It needs the store Open returned. A
// tenant that is not in the list is ErrNotFound: its store is never
// created by a lookup.
func (s *DB) Tenant(ctx context.Context, id string) (*DB, error) {
	if s.root != nil {
		return s.root.Tenant(ctx, id)
	}
	if id == DefaultTenant || id == "" {
		return s, nil
	}
	if !ValidTenantID(id) {
		return nil, ErrNotFound
	}
	s.tenants.mu.Lock()
	t, ok := s.tenants.open[id]
	s.tenants.mu.Unlock()
	if ok {
		return t, nil
	}
	if _, err := s.TenantInfo(ctx, id); err != nil {
		return nil, err
	}
	return s.openTenant(ctx, id)
}

// TenantID is the tenant this store is.
func (s *DB) TenantID() string {
	if s.tenant == "" {
		return DefaultTenant
	}
	return s.tenant
}

// tenantHandles are the tenant stores a root store has opened.
type tenantHandles struct {
	mu   sync.Mutex // guards open; held while one is opened
	open map[string]*DB
}

// openTenant opens (creating and migrating when new) tenant id's store.
func (s *DB) openTenant(ctx context.Context, id string) (*DB, error) {
	s.tenants.mu.Lock()
	defer s.tenants.mu.Unlock()
	if t, ok := s.tenants.open[id]; ok {
		return t, nil
	}
	t := &DB{postgres: s.postgres, dsn: s.dsn, tenant: id, root: s}
	if s.postgres {
		t.db = s.db
		t.schema = s.tenantSchema(id)
		if _, err := s.db.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+quoteIdent(t.schema)); err != nil {
			return nil, fmt.Errorf("store: tenant %s: %w", id, err)
		}
	} else {
		if err := os.MkdirAll(s.tenantDir(), 0o700); err != nil {
			return nil, fmt.Errorf("store: tenant %s: %w", id, err)
		}
		db, err := openSQLite(s.tenantFile(id))
		if err != nil {
			return nil, fmt.Errorf("store: tenant %s: %w", id, err)
		}
		t.db = db
		t.path = s.tenantFile(id)
	}
	if err := t.migrate(ctx); err != nil {
		if !s.postgres {
			t.db.Close()
		}
		return nil, err
	}
	if s.tenants.open == nil {
		s.tenants.open = map[string]*DB{}
	}
	s.tenants.open[id] = t
	return t, nil
}

// tenantSchema is the PostgreSQL schema of tenant id: beside the
// default tenant's schema, named after it.
func (s *DB) tenantSchema(id string) string {
	base := pgSearchPath(s.dsn)
	if base == "public" {
		base = "gonaut"
	}
	return base + "_t_" + id
}

// pgSearchPath is the first schema of a DSN's search_path, or "public".
func pgSearchPath(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "public"
	}
	sp := u.Query().Get("search_path")
	sp, _, _ = strings.Cut(sp, ",")
	sp = strings.Trim(strings.TrimSpace(sp), `"`)
	if sp == "" {
		return "public"
	}
	return sp
}

// tenantDir is where a SQLite store keeps its tenants' files: beside
// the default tenant's file.
func (s *DB) tenantDir() string { return s.path + ".tenants" }

func (s *DB) tenantFile(id string) string { return filepath.Join(s.tenantDir(), id+".db") }

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// CreateTenant adds a tenant and creates its store. The id must be
// ValidTenantID and not DefaultTenant; a taken id is a ConflictError.
func (s *DB) CreateTenant(ctx context.Context, t *Tenant) error {
	if s.root != nil {
		return fmt.Errorf("%w: tenants are created through the default tenant's store", ErrInvalid)
	}
	if !ValidTenantID(t.ID) || t.ID == DefaultTenant {
		return fmt.Errorf("%w: tenant id %q: 2 to 30 lower-case letters and digits, starting with a letter, not %q", ErrInvalid, t.ID, DefaultTenant)
	}
	if strings.TrimSpace(t.Name) == "" || len(t.Name) > 200 {
		return fmt.Errorf("%w: tenant name: 1 to 200 characters", ErrInvalid)
	}
	if err := t.Quotas.valid(); err != nil {
		return err
	}
	t.Created = nowUTC()
	_, err := s.exec(ctx, s.db, `INSERT INTO tenants (id, name, suspended, created, devices_quota, gateways_quota, policies_quota, events_quota) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Name, t.Suspended, nanos(t.Created), t.Quotas.Devices, t.Quotas.Gateways, t.Quotas.Policies, t.Quotas.EventsPerDay)
	if err != nil {
		return err
	}
	if _, err := s.openTenant(ctx, t.ID); err != nil {
		// The store could not be made: the tenant is not listed.
		s.exec(context.WithoutCancel(ctx), s.db, `DELETE FROM tenants WHERE id = ?`, t.ID)
		return err
	}
	return nil
}

func (q Quotas) valid() error {
	for _, n := range []int{q.Devices, q.Gateways, q.Policies, q.EventsPerDay} {
		if n < 0 {
			return fmt.Errorf("%w: a quota is zero (no limit) or more", ErrInvalid)
		}
	}
	return nil
}

const tenantColumns = `id, name, suspended, created, devices_quota, gateways_quota, policies_quota, events_quota, support_role, support_until, support_by`

func scanTenant(sc interface{ Scan(...any) error }) (Tenant, error) {
	var t Tenant
	var created, until int64
	err := sc.Scan(&t.ID, &t.Name, &t.Suspended, &created, &t.Quotas.Devices, &t.Quotas.Gateways, &t.Quotas.Policies, &t.Quotas.EventsPerDay,
		&t.Support.Role, &until, &t.Support.GrantedBy)
	t.Created = fromNanos(created)
	if until != 0 {
		t.Support.Until = fromNanos(until)
	}
	return t, err
}

// TenantInfo is the listed tenant id; DefaultTenant is always listed.
func (s *DB) TenantInfo(ctx context.Context, id string) (*Tenant, error) {
	if s.root != nil {
		return s.root.TenantInfo(ctx, id)
	}
	t, err := scanTenant(s.row(ctx, s.db, `SELECT `+tenantColumns+` FROM tenants WHERE id = ?`, id))
	if err != nil {
		return nil, s.wrap(err)
	}
	return &t, nil
}

// ListTenants lists every tenant, the default one first.
func (s *DB) ListTenants(ctx context.Context) ([]Tenant, error) {
	if s.root != nil {
		return s.root.ListTenants(ctx)
	}
	rows, err := s.query(ctx, s.db, `SELECT `+tenantColumns+` FROM tenants ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END, id`, DefaultTenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, t)
	}
	return out, s.wrap(rows.Err())
}

// UpdateTenant sets a tenant's name, suspension and quotas.
func (s *DB) UpdateTenant(ctx context.Context, t *Tenant) error {
	if s.root != nil {
		return s.root.UpdateTenant(ctx, t)
	}
	if strings.TrimSpace(t.Name) == "" || len(t.Name) > 200 {
		return fmt.Errorf("%w: tenant name: 1 to 200 characters", ErrInvalid)
	}
	if t.ID == DefaultTenant && t.Suspended {
		return fmt.Errorf("%w: the default tenant cannot be suspended", ErrInvalid)
	}
	if err := t.Quotas.valid(); err != nil {
		return err
	}
	res, err := s.exec(ctx, s.db, `UPDATE tenants SET name = ?, suspended = ?, devices_quota = ?, gateways_quota = ?, policies_quota = ?, events_quota = ? WHERE id = ?`,
		t.Name, t.Suspended, t.Quotas.Devices, t.Quotas.Gateways, t.Quotas.Policies, t.Quotas.EventsPerDay, t.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteTenant removes a tenant and everything it holds: its schema or
// file. The default tenant cannot be deleted.
func (s *DB) DeleteTenant(ctx context.Context, id string) error {
	if s.root != nil {
		return s.root.DeleteTenant(ctx, id)
	}
	if id == DefaultTenant {
		return fmt.Errorf("%w: the default tenant cannot be deleted", ErrInvalid)
	}
	if _, err := s.TenantInfo(ctx, id); err != nil {
		return err
	}
	s.tenants.mu.Lock()
	t := s.tenants.open[id]
	delete(s.tenants.open, id)
	s.tenants.mu.Unlock()
	if t != nil && t.raw.db != nil {
		t.raw.db.Close()
	}
	if s.postgres {
		if _, err := s.db.ExecContext(ctx, `DROP SCHEMA IF EXISTS `+quoteIdent(s.tenantSchema(id))+` CASCADE`); err != nil {
			return s.wrap(err)
		}
	} else {
		if t != nil {
			t.db.Close()
		}
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(s.tenantFile(id) + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("store: tenant %s: %w", id, err)
			}
		}
	}
	_, err := s.exec(ctx, s.db, `DELETE FROM tenants WHERE id = ?`, id)
	return err
}

// closeTenants closes the SQLite files of the tenants s opened.
func (s *DB) closeTenants() {
	s.tenants.mu.Lock()
	defer s.tenants.mu.Unlock()
	for id, t := range s.tenants.open {
		if !s.postgres {
			t.db.Close()
		}
		if t.raw.db != nil {
			t.raw.db.Close()
		}
		delete(s.tenants.open, id)
	}
}

// SetTenantSupport sets tenant id's support grant; a zero Support
// revokes it.
func (s *DB) SetTenantSupport(ctx context.Context, id string, g Support) error {
	if s.root != nil {
		return s.root.SetTenantSupport(ctx, id, g)
	}
	var until int64
	if !g.Until.IsZero() {
		until = nanos(g.Until)
	}
	res, err := s.exec(ctx, s.db, `UPDATE tenants SET support_role = ?, support_until = ?, support_by = ? WHERE id = ?`, g.Role, until, g.GrantedBy, id)
	if err != nil {
		return s.wrap(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// createTenantsTable is the platform's migration: the list of tenants,
// kept in the default tenant's store, which it always lists.
func (s *DB) createTenantsTable(ctx context.Context) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if s.postgres {
			// Two replicas starting together create it one after the other.
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7207)`); err != nil {
				return err
			}
		}
		if _, err := s.exec(ctx, tx, `CREATE TABLE IF NOT EXISTS tenants (
	id TEXT PRIMARY KEY, name TEXT NOT NULL, suspended BOOLEAN NOT NULL, created BIGINT NOT NULL,
	devices_quota INTEGER NOT NULL, gateways_quota INTEGER NOT NULL, policies_quota INTEGER NOT NULL,
	events_quota INTEGER NOT NULL,
	support_role TEXT NOT NULL DEFAULT '', support_until BIGINT NOT NULL DEFAULT 0, support_by TEXT NOT NULL DEFAULT '')`); err != nil {
			return err
		}
		var n int
		if err := s.row(ctx, tx, `SELECT COUNT(*) FROM tenants WHERE id = ?`, DefaultTenant).Scan(&n); err != nil {
			return s.wrap(err)
		}
		if n > 0 {
			return nil
		}
		_, err := s.exec(ctx, tx, `INSERT INTO tenants (id, name, suspended, created, devices_quota, gateways_quota, policies_quota, events_quota) VALUES (?, ?, ?, ?, 0, 0, 0, 0)`,
			DefaultTenant, "Default", false, nanos(nowUTC()))
		return err
	})
}

// Package storetest opens fresh stores for tests and benchmarks: a SQLite
// file in the test's temporary directory, and a PostgreSQL schema of its
// own on the server at 127.0.0.1:5432 (or $GONAUT_TEST_POSTGRES), dropped
// when the test ends.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// PostgresBase is the server tests use; trust authentication is assumed.
func PostgresBase() string {
	if v := os.Getenv("GONAUT_TEST_POSTGRES"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// SQLite opens a fresh SQLite store under tb.TempDir.
func SQLite(tb testing.TB) *store.DB {
	tb.Helper()
	return open(tb, SQLiteDSN(tb))
}

// SQLiteDSN is the path of a fresh SQLite database under tb.TempDir,
// for tests that open it themselves (and maybe twice).
func SQLiteDSN(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(tb.TempDir(), "console.db")
}

// Postgres opens a store in a new schema on the test server, dropped at
// cleanup; it skips the test when the server is unreachable.
func Postgres(tb testing.TB) *store.DB {
	tb.Helper()
	return open(tb, PostgresDSN(tb))
}

// PostgresDSN creates a new schema on the test server, dropped at
// cleanup, and returns the DSN of a store in it, for tests that open it
// themselves (two console replicas on one database, say). It skips the
// test when the server is unreachable.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", PostgresBase())
	if err == nil {
		err = admin.PingContext(ctx)
	}
	if err != nil {
		if admin != nil {
			admin.Close()
		}
		tb.Skipf("PostgreSQL at %s unreachable (%v); start it with pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", PostgresBase(), err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "gonaut_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Errorf("dropping schema %s: %v", schema, err)
		}
		// and the schemas of the tenants created in it (store.Tenant).
		rows, err := admin.QueryContext(ctx, `SELECT nspname FROM pg_namespace WHERE nspname LIKE $1`, schema+`\_t\_%`)
		if err == nil {
			var names []string
			for rows.Next() {
				var n string
				if rows.Scan(&n) == nil {
					names = append(names, n)
				}
			}
			rows.Close()
			for _, n := range names {
				if _, err := admin.ExecContext(ctx, `DROP SCHEMA "`+n+`" CASCADE`); err != nil {
					tb.Errorf("dropping schema %s: %v", n, err)
				}
			}
		}
		admin.Close()
	})
	return PostgresBase() + "&search_path=" + schema
}

func open(tb testing.TB, dsn string) *store.DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := store.Open(ctx, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Each runs f as a subtest on each backend, in the default tenant's
// store and in another tenant's: a tenant's store must behave exactly as
// the default one, and on PostgreSQL it reaches its tables through
// schema-qualified names that only running everything there checks.
func Each(t *testing.T, f func(t *testing.T, s *store.DB)) {
	t.Run("sqlite", func(t *testing.T) { f(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, Postgres(t)) })
	t.Run("sqlite-tenant", func(t *testing.T) { f(t, Tenant(t, SQLite(t), "acme")) })
	t.Run("postgres-tenant", func(t *testing.T) { f(t, Tenant(t, Postgres(t), "acme")) })
}

// Tenant creates tenant id in root and returns its store.
func Tenant(tb testing.TB, root *store.DB, id string) *store.DB {
	tb.Helper()
	ctx := context.Background()
	if err := root.CreateTenant(ctx, &store.Tenant{ID: id, Name: "Tenant " + id}); err != nil {
		tb.Fatal(err)
	}
	s, err := root.Tenant(ctx, id)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

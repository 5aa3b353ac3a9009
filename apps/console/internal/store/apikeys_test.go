package store_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// TestMigrationGivesLegacyKeysAnExpiry upgrades a database written before
// API keys had an owner and an expiry: its keys keep working for 30 days
// with no owner, and its sessions, which held CSRF tokens in plaintext,
// are ended.
func TestMigrationGivesLegacyKeysAnExpiry(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := storetest.SQLiteDSN(t)
			if backend == "postgres" {
				dsn = storetest.PostgresDSN(t)
			}
			s, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			// Back to the schema before the migration, with a key and a
			// session as older consoles wrote them.
			for _, q := range []string{
				`ALTER TABLE api_keys DROP COLUMN owner`,
				`ALTER TABLE api_keys DROP COLUMN expires`,
				`INSERT INTO api_keys (id, name, role, hash, created, last_used, revoked) VALUES ('k_old', 'ci', 'admin', 'h', 1, 0, false)`,
				`INSERT INTO sessions (id, user_id, csrf, created, last_seen, mfa) VALUES ('sid', 'u1', 'plaintext-token', 1, 1, false)`,
			} {
				if _, err := s.SQL().ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			if _, err := s.SQL().ExecContext(ctx, `DELETE FROM schema_migrations WHERE version = `+strconv.Itoa(store.APIKeyMigration)); err != nil {
				t.Fatal(err)
			}
			s.Close()
			before := time.Now()
			if s, err = store.Open(ctx, dsn); err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			k, err := s.APIKey(ctx, "k_old")
			if err != nil {
				t.Fatal(err)
			}
			if k.Owner != "" || k.Expires.Before(before.Add(30*24*time.Hour-time.Minute)) || k.Expires.After(time.Now().Add(30*24*time.Hour)) {
				t.Errorf("legacy key after migration: owner %q, expires %v", k.Owner, k.Expires)
			}
			if _, err := s.Session(ctx, "sid"); err == nil {
				t.Error("a session with a plaintext CSRF token survived the migration")
			}
		})
	}
}

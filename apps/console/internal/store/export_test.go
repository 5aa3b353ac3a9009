package store

import (
	"context"
	"database/sql"
)

// SetFewMatches sets the threshold between a search's two plans under an
// actor or resource filter, so that tests reach both with small logs; it
// returns a function restoring it.
func SetFewMatches(n int) (restore func()) {
	old := fewMatches
	fewMatches = n
	return func() { fewMatches = old }
}

// RedoAddressMigration drops the unique address index and runs the
// backfill that dedupes addresses and recreates it, as an upgrade of a
// database written by older consoles would.
func RedoAddressMigration(s *DB) error {
	if _, err := s.db.Exec(`DROP INDEX devices_network_address`); err != nil {
		return err
	}
	return s.tx(context.Background(), func(tx *sql.Tx) error { return dedupeAddresses(context.Background(), s, tx) })
}

// APIKeyMigration is the version of the migration that gave API keys an
// owner and an expiry and ended sessions with plaintext CSRF tokens.
const APIKeyMigration = 7

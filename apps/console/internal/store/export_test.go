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

// Rechain recomputes every entry's link and hash from its stored fields
// and resets the head record to the last entry: what anyone who can write
// the database (and read the documented hash format) can do after
// changing or deleting entries.
func Rechain(s *DB) error {
	ctx := context.Background()
	rows, err := s.query(ctx, s.db, `SELECT `+auditCols+` FROM audit ORDER BY seq`)
	if err != nil {
		return err
	}
	var es []*AuditEvent
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			rows.Close()
			return err
		}
		es = append(es, e)
	}
	rows.Close()
	prev := ""
	var seq int64
	for _, e := range es {
		e.PrevHash, e.Hash = prev, chainHash(prev, e)
		if _, err := s.exec(ctx, s.db, `UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?`, e.PrevHash, e.Hash, e.Seq); err != nil {
			return err
		}
		prev, seq = e.Hash, e.Seq
	}
	_, err = s.exec(ctx, s.db, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, seq, prev)
	return err
}

// APIKeyMigration is the version of the migration that gave API keys an
// owner and an expiry and ended sessions with plaintext CSRF tokens.
const APIKeyMigration = 10

// TenantTables lists the tables qualify qualifies.
func TenantTables() []string {
	var out []string
	for n := range tenantTables {
		out = append(out, n)
	}
	return out
}

// Qualify is qualify, for its test.
var Qualify = qualify

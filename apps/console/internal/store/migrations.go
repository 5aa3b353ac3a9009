package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// A migration is SQL for both backends, then SQL for one of them, then
// a data backfill in Go, all in one transaction.
type migration struct {
	sql      string
	sqlite   string
	postgres string
	fill     func(ctx context.Context, s *DB, tx *sql.Tx) error
}

// migrations are applied in order, each once, each in its own
// transaction; the applied versions are recorded in schema_migrations.
// Never edit a released migration: add a new one. Shared SQL must run on
// both SQLite and PostgreSQL; times are Unix nanoseconds in BIGINT.
var migrations = []migration{
	// 1: the initial schema.
	{sql: `
CREATE TABLE config_version (id INTEGER PRIMARY KEY, version BIGINT NOT NULL);
INSERT INTO config_version (id, version) VALUES (1, 1);
CREATE TABLE users (
	id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL, role TEXT NOT NULL,
	groups_json TEXT NOT NULL, password_hash TEXT NOT NULL, totp_secret TEXT NOT NULL,
	totp_enabled BOOLEAN NOT NULL, recovery_json TEXT NOT NULL, disabled BOOLEAN NOT NULL,
	failed_logins INTEGER NOT NULL, locked_until BIGINT NOT NULL, created BIGINT NOT NULL);
CREATE TABLE groups (name TEXT PRIMARY KEY, description TEXT NOT NULL);
CREATE TABLE devices (
	id TEXT PRIMARY KEY, name TEXT NOT NULL, owner TEXT NOT NULL, public_key TEXT NOT NULL UNIQUE,
	address TEXT NOT NULL, posture TEXT NOT NULL, disabled BOOLEAN NOT NULL, created BIGINT NOT NULL,
	last_seen BIGINT NOT NULL, session_expires BIGINT NOT NULL, mfa_time BIGINT NOT NULL);
CREATE INDEX devices_owner ON devices (owner, id);
CREATE TABLE resources (
	name TEXT PRIMARY KEY, kind TEXT NOT NULL, address TEXT NOT NULL, port INTEGER NOT NULL,
	labels_json TEXT NOT NULL, gateway TEXT NOT NULL, note TEXT NOT NULL);
CREATE TABLE policies (name TEXT PRIMARY KEY, version INTEGER NOT NULL, enabled BOOLEAN NOT NULL);
CREATE TABLE policy_versions (
	name TEXT NOT NULL, version INTEGER NOT NULL, source TEXT NOT NULL, author TEXT NOT NULL,
	message TEXT NOT NULL, time BIGINT NOT NULL, PRIMARY KEY (name, version));
CREATE TABLE gateways (
	id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, token_hash TEXT NOT NULL, token_expires BIGINT NOT NULL,
	secret_hash TEXT NOT NULL, registered BIGINT NOT NULL, revoked BOOLEAN NOT NULL, last_seen BIGINT NOT NULL,
	bundle_version BIGINT NOT NULL, status TEXT NOT NULL, created BIGINT NOT NULL);
CREATE TABLE audit_head (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');
CREATE TABLE audit (
	seq BIGINT PRIMARY KEY, time BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
	resource TEXT NOT NULL, effect TEXT NOT NULL, gateway TEXT NOT NULL, event_id TEXT,
	detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE UNIQUE INDEX audit_event_id ON audit (event_id);
CREATE INDEX audit_actor ON audit (actor, seq);
CREATE INDEX audit_resource ON audit (resource, seq);
CREATE INDEX audit_effect ON audit (effect, seq);
CREATE INDEX audit_action ON audit (action, seq);
CREATE INDEX audit_time ON audit (time);
CREATE TABLE alerts (
	id TEXT PRIMARY KEY, time BIGINT NOT NULL, severity TEXT NOT NULL, kind TEXT NOT NULL,
	subject TEXT NOT NULL, message TEXT NOT NULL, evidence TEXT NOT NULL, state TEXT NOT NULL);
CREATE INDEX alerts_time ON alerts (time);
CREATE TABLE api_keys (
	id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL,
	created BIGINT NOT NULL, last_used BIGINT NOT NULL, revoked BOOLEAN NOT NULL);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sessions (
	id TEXT PRIMARY KEY, user_id TEXT NOT NULL, csrf TEXT NOT NULL, created BIGINT NOT NULL,
	last_seen BIGINT NOT NULL, mfa BOOLEAN NOT NULL);
CREATE INDEX sessions_user ON sessions (user_id);
`},
	// 2: the audit log's low-selectivity indexes cost every ingested
	// event three more index insertions and served no query well: pages
	// filtered by effect, action or time walk the primary key newest
	// first (see ListAudit).
	{sql: `
DROP INDEX audit_effect;
DROP INDEX audit_action;
DROP INDEX audit_time;
`},
	// 3: full-text search (see search.go), and on SQLite the effect in
	// the actor and resource indexes, so that a page filtered by actor or
	// resource and effect skips non-matching entries inside the index
	// instead of reading each from the table.
	{
		sqlite: `
CREATE VIRTUAL TABLE audit_fts USING fts5(terms, content='', columnsize=0, detail=none,
	tokenize="unicode61 remove_diacritics 0 tokenchars '.-_:@/'");
DROP INDEX audit_actor;
DROP INDEX audit_resource;
CREATE INDEX audit_actor ON audit (actor, seq, effect);
CREATE INDEX audit_resource ON audit (resource, seq, effect);
`,
		postgres: `
ALTER TABLE audit ADD COLUMN search tsvector;
CREATE INDEX audit_search ON audit USING gin (search);
`,
		fill: backfillSearch,
	},
	// 4: on SQLite, the search index's terms, read to expand a searched
	// word into the terms it begins (see ftsExpand).
	{sqlite: `CREATE VIRTUAL TABLE audit_fts_terms USING fts5vocab(audit_fts, 'instance');`},
	// 5: the range of times in each block of auditBlock entries, which
	// bounds by sequence number the part of the log a time window can
	// touch (see blockBounds), filled from the entries already logged.
	{sql: `
CREATE TABLE audit_blocks (block BIGINT PRIMARY KEY, min_time BIGINT NOT NULL, max_time BIGINT NOT NULL);
INSERT INTO audit_blocks (block, min_time, max_time) SELECT seq / 1024, MIN(time), MAX(time) FROM audit GROUP BY seq / 1024;
`},
	// 6: devices record the pool their address came from and who set their
	// posture; duplicate addresses are moved before (network, address)
	// becomes unique.
	{sql: `
ALTER TABLE devices ADD COLUMN network TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN posture_source TEXT NOT NULL DEFAULT '';`, fill: dedupeAddresses},
	// 7: users carry a row version, so that read-modify-write updates are
	// compare-and-swap; failed logins are counted per account and source
	// in a table of their own, so that a login never rewrites the user row
	// (users.failed_logins and users.locked_until are no longer used).
	{sql: `
ALTER TABLE users ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
CREATE TABLE login_failures (
	user_id TEXT NOT NULL, source TEXT NOT NULL, failures INTEGER NOT NULL, last_failure BIGINT NOT NULL,
	PRIMARY KEY (user_id, source));
CREATE INDEX login_failures_last ON login_failures (last_failure);`},
	// 8: TOTP codes are single-use: the last time step a user's code was
	// accepted at, which a login must exceed (see UseTOTPStep); and a
	// secret awaiting confirmation is kept apart from the one in use, so
	// starting a new enrolment never switches the current one off.
	{sql: `
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN totp_pending TEXT NOT NULL DEFAULT '';`},
	// 9: signed checkpoints of the audit chain's head (see checkpoints.go),
	// made with a key kept outside the database, so that whoever can write
	// the rows cannot forge them.
	{sql: `
CREATE TABLE audit_checkpoints (
	seq BIGINT PRIMARY KEY, hash TEXT NOT NULL, time BIGINT NOT NULL, signature TEXT NOT NULL);`},
	// 10: API keys get an owner (a user id) and an expiry. Keys made
	// before this had neither: they keep an empty owner (made by an
	// admin, acting with their own role) and expire 30 days after the
	// migration, so they keep working while replacements are made but
	// not for ever. Sessions held their CSRF token in plaintext; they
	// now hold its hash, and the old sessions are ended (everyone signs
	// in again) rather than kept with a token that was readable.
	{sql: `
ALTER TABLE api_keys ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN expires BIGINT NOT NULL DEFAULT 0;
DELETE FROM sessions;`, fill: expireLegacyAPIKeys},
	// 11: a session records when its user last re-entered her password
	// (see Session.Reauth), for the actions that want it fresh; an API
	// key may have a scope narrower than its role.
	{sql: `
ALTER TABLE sessions ADD COLUMN reauth BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN scope TEXT NOT NULL DEFAULT '';`},
	// 12: the OpenID Connect providers a tenant's people sign in with
	// (see identityproviders.go); the client secret is sealed by the
	// domain before it gets here.
	{sql: `
CREATE TABLE identity_providers (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	issuer TEXT NOT NULL,
	client_id TEXT NOT NULL,
	client_secret TEXT NOT NULL,
	scopes TEXT NOT NULL,
	trust_email BOOLEAN NOT NULL,
	provisioning TEXT NOT NULL,
	default_role TEXT NOT NULL,
	created BIGINT NOT NULL
);`},
}

// legacyAPIKeyLife is how long the API keys that predate migration 7
// keep working after it.
const legacyAPIKeyLife = 30 * 24 * time.Hour

func expireLegacyAPIKeys(ctx context.Context, s *DB, tx *sql.Tx) error {
	_, err := s.exec(ctx, tx, `UPDATE api_keys SET expires = ? WHERE expires = 0`, nanos(nowUTC().Add(legacyAPIKeyLife)))
	return err
}

func (s *DB) migrate(ctx context.Context) error {
	if _, err := s.exec(ctx, s.db, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrations table: %w", err)
	}
	for i, m := range migrations {
		v := i + 1
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if s.postgres {
				// Two replicas starting together migrate one after the other.
				if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7207)`); err != nil {
					return err
				}
				// A tenant's migrations create its tables in its schema.
				if s.schema != "" {
					if _, err := tx.ExecContext(ctx, `SET LOCAL search_path TO `+quoteIdent(s.schema)); err != nil {
						return err
					}
				}
			}
			var n int
			if err := s.row(ctx, tx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			dialect := m.sqlite
			if s.postgres {
				dialect = m.postgres
			}
			for _, q := range []string{m.sql, dialect} {
				if q == "" {
					continue
				}
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return err
				}
			}
			if m.fill != nil {
				if err := m.fill(ctx, s, tx); err != nil {
					return err
				}
			}
			_, err := s.exec(ctx, tx, `INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`, v, nanos(nowUTC()))
			return err
		})
		if err != nil {
			return fmt.Errorf("store: migration %d: %w", v, err)
		}
	}
	return nil
}

// SchemaVersion is the number of migrations applied.
func (s *DB) SchemaVersion(ctx context.Context) (int, error) {
	var n int
	err := s.row(ctx, s.db, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&n)
	return n, s.wrap(err)
}

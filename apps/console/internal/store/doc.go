// Package store is the console's persistent state behind one interface,
// Store, with two backends that pass the same test suite: SQLite
// (modernc.org/sqlite, pure Go, the embedded default) and PostgreSQL
// (github.com/jackc/pgx/v5, for production and for several console
// replicas). Open picks the backend from the DSN and applies the versioned
// migrations in migrations.go before returning.
//
// # What it keeps
//
// Users (argon2id password hashes, TOTP secrets as the console sealed
// them, the last TOTP time step used, hashed recovery codes, lockout
// state; the second factor changes only through the targeted,
// conditional updates of mfa.go), groups, devices (WireGuard public keys, posture, owner,
// session expiry), resources, policies with every saved version (author,
// time, message), gateways (hashed one-time registration token, hashed
// credential, last status), the audit log, alerts, API keys (hashed),
// settings and web sessions (hashed ids).
//
// Every change that a gateway must see bumps the configuration version
// (ConfigVersion) in the same transaction; the control plane's bundle
// long-poll watches it.
//
// # The audit log
//
// The audit log is append-only: the store has no call that changes or
// deletes an entry. Each entry carries the SHA-256 of its own fields and of
// the previous entry's hash, so changing, removing or reordering any entry
// breaks the chain from there on; VerifyAudit walks the chain and names the
// first broken entry. Entries that come from gateways carry the gateway's
// event id, which is unique: appending the same event twice stores it once.
//
// The chain alone does not stop whoever can write the database from
// removing the last entries or re-chaining rewritten ones. An
// AuditCheckpoint is the head (entry, hash, time) signed with an Ed25519
// key the database never holds; VerifyAuditSigned checks every stored
// checkpoint, and every one of an exported copy (WriteCheckpoints,
// ParseCheckpoints), against the chain: a hash that differs means the log
// was rewritten up to that entry, a checkpoint past the end means entries
// were removed, and an exported checkpoint missing from the database means
// checkpoints were deleted. Entries after the last checkpoint are held by
// the chain alone.
//
// # Tenants
//
// Every tenant has a store of its own with the same tables (tenants.go):
// a SQLite file beside the default one (<file>.tenants/<id>.db), or a
// PostgreSQL schema beside the DSN's (<schema>_t_<id>, gonaut_t_<id>
// next to public) in the same database, whose queries share the default
// store's connection pool and name the schema's tables (qualify.go). Open
// returns the default tenant's store, which is exactly a single-tenant
// console's store and also lists the tenants; DB.Tenant opens another.
// Isolation is where the rows live: a tenant's store has no query that
// can reach another's, and its audit chain, checkpoints, settings and
// configuration version are its own.
//
// # Concurrency
//
// A *DB is safe for concurrent use. Appends to the audit log are
// serialised (a row lock on PostgreSQL, an immediate transaction on
// SQLite) so that the chain stays linear with several console replicas.
//
// # Several console processes
//
// Any number of console processes may share one PostgreSQL database:
// every change to the configuration notifies ChannelConfig when it
// commits, and Notify and Listen carry the consoles' live events between
// them (LISTEN/NOTIFY on a connection of its own). Replicas counts the
// processes listening for one installation, by that connection's
// application_name, which names the installation's schema. A SQLite
// store belongs to one process: Shared reports false, Listen is
// unsupported and Replicas is 1.
//
// # Search
//
// The audit log's full-text search is indexed on both backends (FTS5 on
// SQLite, a tsvector with a GIN index on PostgreSQL) over the same terms,
// so that it finds the same entries on either; AuditFilter.Query says
// what matches.
package store

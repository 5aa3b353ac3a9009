package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver
)

// DB is the SQL implementation of Store for both backends. The SQL is
// written once with "?" placeholders and portable types; the few places
// where the backends differ (placeholders, row locks, conflict errors)
// go through the dialect.
type DB struct {
	db       *sql.DB
	postgres bool
	dsn      string // for the dedicated LISTEN connection (PostgreSQL)
	path     string // the SQLite file

	// A tenant's store (see tenants.go) has its tenant's id and, on
	// PostgreSQL, the schema every query is qualified with (the pool is
	// the root's); root is the store Open returned. The root has no
	// tenant and no schema, and keeps the tenants it opened.
	tenant  string
	schema  string
	root    *DB
	tenants tenantHandles
	raw     rawPool // a PostgreSQL tenant's SQL
}

// Open connects to a store and migrates it. A DSN starting with
// "postgres://" or "postgresql://" opens PostgreSQL (any libpq
// parameter, e.g. search_path, may be added to the URL); anything else is
// a SQLite file path (":memory:" is not supported: use a temporary file).
func Open(ctx context.Context, dsn string) (*DB, error) {
	s := &DB{dsn: dsn}
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		s.postgres = true
		s.db, err = sql.Open("pgx", withCustomPlans(dsn))
		if err == nil {
			s.db.SetMaxOpenConns(16)
			s.db.SetMaxIdleConns(16)
		}
	} else {
		if dsn == "" || dsn == ":memory:" {
			return nil, fmt.Errorf("%w: sqlite needs a file path", ErrInvalid)
		}
		path := strings.TrimPrefix(dsn, "file:")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		s.path = path
		s.db, err = openSQLite(path)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	if err := s.createTenantsTable(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("store: tenants table: %w", err)
	}
	return s, nil
}

// openSQLite opens the SQLite file at path.
func openSQLite(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)")
	if err == nil {
		db.SetMaxOpenConns(8)
	}
	return db, err
}

// withCustomPlans asks PostgreSQL to plan every execution of a prepared
// statement for its parameters, unless the DSN says otherwise. The
// driver prepares and caches statements, and after five executions
// PostgreSQL may switch to a generic plan that ignores the parameters:
// for the audit log, whose best plan depends on how rare a user, a
// resource or a searched word is, that turned a 10 ms search into a
// 300 ms one. Planning these queries costs well under a millisecond.
func withCustomPlans(dsn string) string {
	if strings.Contains(dsn, "plan_cache_mode") {
		return dsn
	}
	if strings.Contains(dsn, "?") {
		return dsn + "&plan_cache_mode=force_custom_plan"
	}
	return dsn + "?plan_cache_mode=force_custom_plan"
}

// Close closes the database and the tenants' stores opened through it.
// A tenant's store closes with the root: closing it does nothing.
func (s *DB) Close() error {
	if s.root != nil {
		return nil
	}
	s.closeTenants()
	return s.db.Close()
}

// Backend is "sqlite" or "postgres".
func (s *DB) Backend() string {
	if s.postgres {
		return "postgres"
	}
	return "sqlite"
}

// SQL exposes the database for tools such as benchmarks' bulk loaders,
// and for tests that change rows behind the store's back. A tenant's
// PostgreSQL store shares the root's pool and qualifies its queries; its
// SQL is a small pool of its own whose search_path is the tenant's
// schema, so that unqualified SQL reaches the tenant's tables.
func (s *DB) SQL() *sql.DB {
	if s.schema == "" {
		return s.db
	}
	s.raw.once.Do(func() {
		u, err := url.Parse(withCustomPlans(s.dsn))
		if err != nil {
			s.raw.db, _ = sql.Open("pgx", "invalid")
			return
		}
		q := u.Query()
		q.Set("search_path", s.schema)
		u.RawQuery = q.Encode()
		s.raw.db, _ = sql.Open("pgx", u.String())
		s.raw.db.SetMaxOpenConns(2)
	})
	return s.raw.db
}

// rawPool is a tenant's SQL pool, opened on first use.
type rawPool struct {
	once sync.Once
	db   *sql.DB
}

// q rewrites "?" placeholders for the backend and, in a tenant's
// PostgreSQL store, qualifies its tables with the tenant's schema.
func (s *DB) q(query string) string {
	if !s.postgres {
		return query
	}
	if s.schema != "" {
		query = qualify(query, s.schema)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *DB) exec(ctx context.Context, qr querier, query string, args ...any) (sql.Result, error) {
	r, err := qr.ExecContext(ctx, s.q(query), args...)
	return r, s.wrap(err)
}

func (s *DB) query(ctx context.Context, qr querier, query string, args ...any) (*sql.Rows, error) {
	r, err := qr.QueryContext(ctx, s.q(query), args...)
	return r, s.wrap(err)
}

func (s *DB) row(ctx context.Context, qr querier, query string, args ...any) *sql.Row {
	return qr.QueryRowContext(ctx, s.q(query), args...)
}

// wrap maps backend errors to the package's sentinels.
func (s *DB) wrap(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return &ConflictError{Table: pe.TableName, Column: pgConflictColumn(pe.Detail)}
	}
	if _, after, ok := strings.Cut(err.Error(), "UNIQUE constraint failed: "); ok {
		return sqliteConflict(after)
	}
	return fmt.Errorf("store: %w", err)
}

// sqliteConflict reads SQLite's "users.email (2067)" (or "t.a, t.b") into
// a ConflictError naming the first column.
func sqliteConflict(msg string) *ConflictError {
	msg, _, _ = strings.Cut(msg, ",")
	msg, _, _ = strings.Cut(msg, " ")
	table, column, _ := strings.Cut(msg, ".")
	return &ConflictError{Table: table, Column: column}
}

// pgConflictColumn reads the first column of PostgreSQL's unique
// violation detail, "Key (email)=(ann@example.com) already exists.".
func pgConflictColumn(detail string) string {
	_, after, ok := strings.Cut(detail, "Key (")
	if !ok {
		return ""
	}
	cols, _, _ := strings.Cut(after, ")")
	col, _, _ := strings.Cut(cols, ",")
	return strings.TrimSpace(col)
}

// tx runs fn in a transaction, committing if it returns nil.
func (s *DB) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return s.wrap(tx.Commit())
}

// bump increases the configuration version in tx. On PostgreSQL it also
// notifies ChannelConfig, which every console listening on the database
// receives when tx commits.
func (s *DB) bump(ctx context.Context, tx *sql.Tx) error {
	_, err := s.exec(ctx, tx, `UPDATE config_version SET version = version + 1 WHERE id = 1`)
	if err == nil && s.postgres {
		// The payload names the tenant whose configuration moved ("" for
		// the default tenant).
		_, err = s.exec(ctx, tx, `SELECT pg_notify(?, ?)`, ChannelConfig, s.tenant)
	}
	return err
}

// ConfigVersion is the version of everything gateways see.
func (s *DB) ConfigVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.row(ctx, s.db, `SELECT version FROM config_version WHERE id = 1`).Scan(&v)
	return v, s.wrap(err)
}

// NewID returns a random id with a type prefix, e.g. "u_3f9c…".
func NewID(prefix string) string {
	var b [10]byte
	rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func like(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + strings.ToLower(r.Replace(q)) + "%"
}

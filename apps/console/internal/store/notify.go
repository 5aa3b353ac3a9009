package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Channels on which console processes sharing a PostgreSQL database tell
// each other what happened.
const (
	// ChannelConfig is notified, with an empty payload, when a
	// transaction that moved the configuration version commits.
	ChannelConfig = "gonaut_config"
	// ChannelLive carries live events (decisions, alerts, gateway status)
	// from the console that received them to the others; the payload is
	// the server's to define.
	ChannelLive = "gonaut_live"
)

// MaxNotifyPayload is the largest payload Notify sends (PostgreSQL's
// limit is 8000 bytes).
const MaxNotifyPayload = 7900

// Shared reports whether other processes may use the same database, and
// so whether Notify and Listen carry anything: true on PostgreSQL. A
// SQLite store belongs to one console process.
func (s *DB) Shared() bool { return s.postgres }

// Notify sends each payload on channel to every process listening on
// this database, in one round trip. Payloads are delivered in order, at
// most once, and only to processes listening at the time; each must be
// at most MaxNotifyPayload bytes. On SQLite it does nothing.
func (s *DB) Notify(ctx context.Context, channel string, payloads []string) error {
	if !s.postgres || len(payloads) == 0 {
		return nil
	}
	for _, p := range payloads {
		if len(p) > MaxNotifyPayload {
			return fmt.Errorf("%w: notification of %d bytes", ErrInvalid, len(p))
		}
	}
	_, err := s.db.ExecContext(ctx, `SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS t (p, n) ORDER BY n`, channel, payloads)
	return s.wrap(err)
}

// Listen listens on channels over a connection of its own and calls fn
// for every notification, from one goroutine, until ctx ends or the
// connection fails; ready, if not nil, is called once the listening has
// begun, so that anything notified afterwards arrives. It returns
// ctx.Err() when ctx ends, and otherwise the connection's error: the
// caller reconnects by calling Listen again, knowing that notifications
// sent in between are lost. On SQLite it returns ErrUnsupported at once.
func (s *DB) Listen(ctx context.Context, channels []string, ready func(), fn func(channel, payload string)) error {
	if !s.postgres {
		return ErrUnsupported
	}
	cfg, err := pgx.ParseConfig(s.dsn)
	if err != nil {
		return s.wrap(err)
	}
	// The name Replicas counts this connection by.
	cfg.RuntimeParams["application_name"] = s.listenerName()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return s.wrap(err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	for _, c := range channels {
		if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{c}.Sanitize()); err != nil {
			return s.wrap(err)
		}
	}
	if ready != nil {
		ready()
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return s.wrap(err)
		}
		fn(n.Channel, n.Payload)
	}
}

// Replicas is how many console processes listen on this database for
// the installation this store belongs to (its default tenant's schema):
// the live replicas, each counted by the connection Listen holds open,
// which PostgreSQL drops with the process. It is one query on a view in
// memory. On SQLite it is 1: a SQLite store has one console.
func (s *DB) Replicas(ctx context.Context) (int, error) {
	if !s.postgres {
		return 1, nil
	}
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`, s.listenerName()).Scan(&n)
	return n, s.wrap(err)
}

// listenerName is the application_name of Listen's connections: the
// same for every store of one installation, and another for an
// installation in another schema of the same database. PostgreSQL keeps
// 63 bytes of printable ASCII, so a schema name that does not fit is
// named by its hash.
func (s *DB) listenerName() string {
	const prefix = "gonaut-console "
	schema := pgSearchPath(s.dsn)
	fits := len(prefix)+len(schema) <= 63
	for i := 0; fits && i < len(schema); i++ {
		fits = schema[i] >= ' ' && schema[i] <= '~'
	}
	if !fits {
		sum := sha256.Sum256([]byte(schema))
		schema = "#" + hex.EncodeToString(sum[:16])
	}
	return prefix + schema
}

package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// copyThreshold is the batch size from which PostgreSQL appends use COPY
// instead of multi-row INSERTs: gateways push batches of hundreds to
// thousands of events, and COPY moves them several times faster.
const copyThreshold = 200

// errDuplicateEvent reports that an optimistic append met an event id
// already in the log.
var errDuplicateEvent = errors.New("store: duplicate event id")

// appendAuditCopy is AppendAudit on PostgreSQL through the pgx
// connection underneath database/sql, so that the rows go in with COPY,
// in the same transaction as the head lock. It is optimistic: gateways
// resend a batch only after a failure, so it first appends without
// looking for duplicates, relying on the unique index on event_id, and
// only when that index refuses an event does it start over, looking the
// batch's ids up first. The happy path is three round trips: begin and
// lock the head; COPY; move the head and commit.
func (s *DB) appendAuditCopy(ctx context.Context, events []AuditEvent) (added, dups int, err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, 0, s.wrap(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		added, dups, err = appendCopy(ctx, pc, s.schema, events, false)
		if errors.Is(err, errDuplicateEvent) {
			added, dups, err = appendCopy(ctx, pc, s.schema, events, true)
		}
		return err
	})
	if err != nil {
		if errors.Is(err, ErrInvalid) {
			return 0, 0, err
		}
		return 0, 0, s.wrap(fmt.Errorf("audit copy: %w", err))
	}
	return added, dups, nil
}

// appendCopy is one attempt of appendAuditCopy; lookup says whether to
// look the batch's event ids up in the log first.
func appendCopy(ctx context.Context, pc *pgx.Conn, schema string, events []AuditEvent, lookup bool) (added, dups int, err error) {
	var b pgx.Batch
	b.Queue(`BEGIN`)
	if schema != "" {
		// A tenant's audit log is in its schema (see tenants.go).
		b.Queue(`SET LOCAL search_path TO ` + quoteIdent(schema))
	}
	b.Queue(`SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE`)
	var ids []string
	if lookup {
		for i := range events {
			if events[i].EventID != "" {
				ids = append(ids, events[i].EventID)
			}
		}
		b.Queue(`SELECT event_id FROM audit WHERE event_id = ANY($1)`, ids)
	}
	open := false
	defer func() {
		if open {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			pc.Exec(rctx, `ROLLBACK`)
			cancel()
		}
	}()
	var seq int64
	var head string
	seen := map[string]bool{}
	err = func() error {
		br := pc.SendBatch(ctx, &b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return err
		}
		open = true
		if schema != "" {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		if err := br.QueryRow().Scan(&seq, &head); err != nil {
			return err
		}
		if lookup {
			rows, err := br.Query()
			if err != nil {
				return err
			}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				seen[id] = true
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return br.Close()
	}()
	if err != nil {
		return 0, 0, err
	}
	keep, dups, seq, head, err := chain(events, seen, seq, head)
	if err != nil {
		return 0, 0, err
	}
	if len(keep) > 0 {
		_, err = pc.CopyFrom(ctx, pgx.Identifier{"audit"},
			[]string{"seq", "time", "actor", "action", "resource", "effect", "gateway", "event_id", "detail", "prev_hash", "hash", "search"},
			pgx.CopyFromSlice(len(keep), func(i int) ([]any, error) {
				e := keep[i]
				var eid any
				if e.EventID != "" {
					eid = e.EventID
				}
				return []any{e.Seq, nanos(e.Time), e.Actor, e.Action, e.Resource, e.Effect, e.Gateway, eid, string(e.Detail), e.PrevHash, e.Hash, pgTSVector(e)}, nil
			}))
		var pe *pgconn.PgError
		if !lookup && errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "audit_event_id" {
			return 0, 0, errDuplicateEvent
		}
		if err != nil {
			return 0, 0, err
		}
	}
	var end pgx.Batch
	if len(keep) > 0 {
		q, args := blockUpsert(true, blockSpans(keep))
		end.Queue(q, args...)
		end.Queue(`UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, seq, head)
	}
	end.Queue(`COMMIT`)
	if err := pc.SendBatch(ctx, &end).Close(); err != nil {
		return 0, 0, err
	}
	open = false
	return len(keep), dups, nil
}

// CopyRaw copies rows into an audit-shaped table without chaining,
// deduplication or locks. It exists for benchmarks' reference
// measurements (PostgreSQL only).
func (s *DB) CopyRaw(ctx context.Context, table string, rows []AuditEvent) error {
	if !s.postgres {
		return fmt.Errorf("%w: CopyRaw needs PostgreSQL", ErrInvalid)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return s.wrap(err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		_, err := pc.CopyFrom(ctx, pgx.Identifier{table},
			[]string{"seq", "time", "actor", "action", "resource", "effect", "gateway", "event_id", "detail", "prev_hash", "hash"},
			pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
				e := &rows[i]
				return []any{e.Seq, nanos(e.Time), e.Actor, e.Action, e.Resource, e.Effect, e.Gateway, e.EventID, string(e.Detail), e.PrevHash, e.Hash}, nil
			}))
		return err
	})
}

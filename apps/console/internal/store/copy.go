package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// copyThreshold is the batch size from which PostgreSQL appends use COPY
// instead of multi-row INSERTs: gateways push batches of hundreds to
// thousands of events, and COPY moves them several times faster.
const copyThreshold = 200

// appendAuditCopy is AppendAudit on PostgreSQL through the pgx
// connection underneath database/sql, so that the rows go in with COPY,
// in the same transaction as the head lock and the duplicate check.
func (s *DB) appendAuditCopy(ctx context.Context, events []AuditEvent) (added, dups int, err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, 0, s.wrap(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		var seq int64
		var head string
		if err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE`).Scan(&seq, &head); err != nil {
			return err
		}
		var ids []string
		for i := range events {
			if events[i].EventID != "" {
				ids = append(ids, events[i].EventID)
			}
		}
		seen := map[string]bool{}
		if len(ids) > 0 {
			rows, err := tx.Query(ctx, `SELECT event_id FROM audit WHERE event_id = ANY($1)`, ids)
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
		keep, d, seq, head, err := chain(events, seen, seq, head)
		if err != nil {
			return err
		}
		dups = d
		if len(keep) > 0 {
			_, err = tx.CopyFrom(ctx, pgx.Identifier{"audit"},
				[]string{"seq", "time", "actor", "action", "resource", "effect", "gateway", "event_id", "detail", "prev_hash", "hash", "search"},
				pgx.CopyFromSlice(len(keep), func(i int) ([]any, error) {
					e := keep[i]
					var eid any
					if e.EventID != "" {
						eid = e.EventID
					}
					return []any{e.Seq, nanos(e.Time), e.Actor, e.Action, e.Resource, e.Effect, e.Gateway, eid, string(e.Detail), e.PrevHash, e.Hash, pgTSVector(e)}, nil
				}))
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, seq, head); err != nil {
				return err
			}
		}
		added = len(keep)
		return tx.Commit(ctx)
	})
	if err != nil {
		if errors.Is(err, ErrInvalid) {
			return 0, 0, err
		}
		return 0, 0, s.wrap(fmt.Errorf("audit copy: %w", err))
	}
	return added, dups, nil
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

package store

import (
	"context"
	"database/sql"
	"math"
	"strconv"
	"strings"
	"time"
)

// The audit log is walked newest first by sequence number, and times
// are the gateways' own, so a time window has no place in that order of
// its own: a page filtered by time that finds fewer entries than it
// asks for would read the log to its start. An index on time would cost
// every ingested entry another insertion and still leave the page to be
// sorted. Instead, audit_blocks keeps for each block of auditBlock
// consecutive entries the least and the greatest time in it: a few
// hundred rows per million entries, one upsert per appended batch. A
// window's entries all lie in the blocks whose range of times meets it,
// which bounds the walk by sequence number (sinceBlocks and untilBlocks
// on SQLite, blockBounds on PostgreSQL). Late arrivals and clocks ahead
// of time widen a block's range, never hide an entry.

// auditBlock is the number of entries per block; migration 5's backfill
// and sinceBlocks and untilBlocks spell it out.
const auditBlock = 1024

// blockSpan is the range of times appended to one block.
type blockSpan struct{ block, min, max int64 }

// blockSpans returns the blocks es touch with their range of times, in
// block order; es are in sequence order.
func blockSpans(es []*AuditEvent) []blockSpan {
	var out []blockSpan
	for _, e := range es {
		b, t := e.Seq/auditBlock, nanos(e.Time)
		if n := len(out); n > 0 && out[n-1].block == b {
			out[n-1].min, out[n-1].max = min(out[n-1].min, t), max(out[n-1].max, t)
			continue
		}
		out = append(out, blockSpan{b, t, t})
	}
	return out
}

// blockUpsert returns the statement widening the blocks' ranges by
// spans, with $n placeholders on PostgreSQL and ? on SQLite.
func blockUpsert(postgres bool, spans []blockSpan) (string, []any) {
	var b strings.Builder
	b.WriteString(`INSERT INTO audit_blocks (block, min_time, max_time) VALUES `)
	args := make([]any, 0, 3*len(spans))
	for i, sp := range spans {
		if i > 0 {
			b.WriteByte(',')
		}
		if postgres {
			n := 3 * i
			b.WriteString(`($` + strconv.Itoa(n+1) + `,$` + strconv.Itoa(n+2) + `,$` + strconv.Itoa(n+3) + `)`)
		} else {
			b.WriteString(`(?,?,?)`)
		}
		args = append(args, sp.block, sp.min, sp.max)
	}
	if postgres {
		b.WriteString(` ON CONFLICT (block) DO UPDATE SET min_time = LEAST(audit_blocks.min_time, excluded.min_time), max_time = GREATEST(audit_blocks.max_time, excluded.max_time)`)
	} else {
		b.WriteString(` ON CONFLICT (block) DO UPDATE SET min_time = min(min_time, excluded.min_time), max_time = max(max_time, excluded.max_time)`)
	}
	return b.String(), args
}

// Conditions bounding a time window's entries by sequence number on
// SQLite, which evaluates such a subquery once: from the first block
// whose latest time is at or after the window's start, to the end of the
// last whose earliest time is before its end. Where no block qualifies
// the subquery is NULL and the condition matches nothing, which is
// right: no entry lies in the window.
const (
	sinceBlocks = `seq >= (SELECT MIN(block) * 1024 FROM audit_blocks WHERE max_time >= ?)`
	untilBlocks = `seq < (SELECT (MAX(block) + 1) * 1024 FROM audit_blocks WHERE min_time < ?)`
)

// blockBounds returns the range of sequence numbers [lo, hi) holding
// every entry of the time window [since, until) (a zero time leaves that
// side open): from the first block whose latest time is at or after
// since to the end of the last whose earliest time is before until. ok
// is false when no block meets the window, and so no entry. The bounds
// are read before the page's query, rather than in it, so that
// PostgreSQL plans the page for the range it actually spans (with a
// subquery it assumes a third of the log and starts parallel workers).
func (s *DB) blockBounds(ctx context.Context, since, until time.Time) (lo, hi int64, ok bool, err error) {
	from, to := int64(math.MinInt64), int64(math.MaxInt64)
	if !since.IsZero() {
		from = nanos(since)
	}
	if !until.IsZero() {
		to = nanos(until)
	}
	var first, last sql.NullInt64
	err = s.row(ctx, s.db, `SELECT (SELECT MIN(block) FROM audit_blocks WHERE max_time >= ?), (SELECT MAX(block) FROM audit_blocks WHERE min_time < ?)`, from, to).Scan(&first, &last)
	if err != nil {
		return 0, 0, false, s.wrap(err)
	}
	if !first.Valid || !last.Valid || first.Int64 > last.Int64 {
		return 0, 0, false, nil
	}
	return first.Int64 * auditBlock, (last.Int64 + 1) * auditBlock, true, nil
}

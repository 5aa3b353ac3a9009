package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// chainHash is the hash of one entry: SHA-256 over the previous hash and
// the entry's fields, each length-prefixed so that no two different
// entries serialise alike.
func chainHash(prev string, e *AuditEvent) string {
	var b [512]byte
	buf := b[:0]
	field := func(f string) {
		buf = strconv.AppendInt(buf, int64(len(f)), 10)
		buf = append(buf, ':')
		buf = append(buf, f...)
		buf = append(buf, ';')
	}
	var num [20]byte
	field(prev)
	field(string(strconv.AppendInt(num[:0], e.Seq, 10)))
	field(string(strconv.AppendInt(num[:0], nanos(e.Time), 10)))
	field(e.Actor)
	field(e.Action)
	field(e.Resource)
	field(e.Effect)
	field(e.Gateway)
	field(e.EventID)
	field(string(e.Detail))
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:])
}

// AppendAudit appends events to the log in order, chaining each to the
// previous entry, and fills in their Seq, PrevHash and Hash. Events with
// an EventID already in the log (or repeated in the batch) are skipped
// and counted as duplicates. The whole batch commits or nothing does.
func (s *DB) AppendAudit(ctx context.Context, events []AuditEvent) (added, dups int, err error) {
	if s.postgres && len(events) >= copyThreshold {
		return s.appendAuditCopy(ctx, events)
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		added, dups = 0, 0
		var seq int64
		var head string
		lock := `SELECT seq, hash FROM audit_head WHERE id = 1`
		if s.postgres {
			lock += ` FOR UPDATE`
		}
		if err := s.row(ctx, tx, lock).Scan(&seq, &head); err != nil {
			return s.wrap(err)
		}
		seen, err := s.existingEventIDs(ctx, tx, events)
		if err != nil {
			return err
		}
		keep, d, seq, head, err := chain(events, seen, seq, head)
		if err != nil {
			return err
		}
		dups = d
		if err := s.insertAudit(ctx, tx, keep); err != nil {
			return err
		}
		added = len(keep)
		if added == 0 {
			return nil
		}
		q, args := blockUpsert(s.postgres, blockSpans(keep))
		if _, err := s.exec(ctx, tx, q, args...); err != nil {
			return err
		}
		_, err = s.exec(ctx, tx, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, seq, head)
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	return added, dups, nil
}

// chain assigns seq and hashes to the events that are not duplicates,
// after the head (seq, head); it returns the kept events and the new head.
func chain(events []AuditEvent, seen map[string]bool, seq int64, head string) (keep []*AuditEvent, dups int, newSeq int64, newHead string, err error) {
	keep = make([]*AuditEvent, 0, len(events))
	for i := range events {
		e := &events[i]
		if e.EventID != "" {
			if seen[e.EventID] {
				dups++
				continue
			}
			seen[e.EventID] = true
		}
		if e.Time.IsZero() {
			e.Time = nowUTC()
		}
		e.Time = e.Time.UTC()
		if len(e.Detail) > 0 && !json.Valid(e.Detail) {
			return nil, 0, 0, "", fmt.Errorf("%w: audit detail is not JSON", ErrInvalid)
		}
		seq++
		e.Seq, e.PrevHash = seq, head
		e.Hash = chainHash(head, e)
		head = e.Hash
		keep = append(keep, e)
	}
	return keep, dups, seq, head, nil
}

func (s *DB) existingEventIDs(ctx context.Context, tx *sql.Tx, events []AuditEvent) (map[string]bool, error) {
	seen := map[string]bool{}
	var ids []any
	for i := range events {
		if events[i].EventID != "" {
			ids = append(ids, events[i].EventID)
		}
	}
	for len(ids) > 0 {
		n := min(len(ids), 500)
		rows, err := s.query(ctx, tx, `SELECT event_id FROM audit WHERE event_id IN (?`+strings.Repeat(",?", n-1)+`)`, ids[:n]...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, s.wrap(err)
			}
			seen[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, s.wrap(err)
		}
		ids = ids[n:]
	}
	return seen, nil
}

func (s *DB) insertAudit(ctx context.Context, tx *sql.Tx, es []*AuditEvent) error {
	const per = 400
	for len(es) > 0 {
		n := min(per, len(es))
		var b strings.Builder
		b.WriteString(`INSERT INTO audit (seq, time, actor, action, resource, effect, gateway, event_id, detail, prev_hash, hash`)
		if s.postgres {
			b.WriteString(`, search`)
		}
		b.WriteString(`) VALUES `)
		args := make([]any, 0, n*12)
		for i, e := range es[:n] {
			if i > 0 {
				b.WriteByte(',')
			}
			var eid any
			if e.EventID != "" {
				eid = e.EventID
			}
			args = append(args, e.Seq, nanos(e.Time), e.Actor, e.Action, e.Resource, e.Effect, e.Gateway, eid, string(e.Detail), e.PrevHash, e.Hash)
			if s.postgres {
				b.WriteString(`(?,?,?,?,?,?,?,?,?,?,?,CAST(? AS tsvector))`)
				args = append(args, tsVector(auditTerms(e)))
			} else {
				b.WriteString(`(?,?,?,?,?,?,?,?,?,?,?)`)
			}
		}
		if _, err := s.exec(ctx, tx, b.String(), args...); err != nil {
			return err
		}
		if !s.postgres {
			if err := s.insertFTS(ctx, tx, es[:n]); err != nil {
				return err
			}
		}
		es = es[n:]
	}
	return nil
}

const auditCols = `seq, time, actor, action, resource, effect, gateway, event_id, detail, prev_hash, hash`

func scanAudit(sc interface{ Scan(...any) error }) (*AuditEvent, error) {
	var e AuditEvent
	var t int64
	var eid sql.NullString
	var detail string
	if err := sc.Scan(&e.Seq, &t, &e.Actor, &e.Action, &e.Resource, &e.Effect, &e.Gateway, &eid, &detail, &e.PrevHash, &e.Hash); err != nil {
		return nil, err
	}
	e.Time, e.EventID = fromNanos(t), eid.String
	if detail != "" {
		e.Detail = json.RawMessage(detail)
	}
	return &e, nil
}

// ListAudit returns entries matching f, newest first.
func (s *DB) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if f.Before > 0 {
		add(`seq < ?`, f.Before)
	}
	// On SQLite, the low-selectivity columns (action, effect, gateway,
	// time) are filtered without their indexes (the unary + in SQLite
	// turns an index off): walking the primary key newest first and
	// filtering finds a page at once, where an index on, say, time would
	// collect and sort a whole window. Actor and resource keep their
	// (column, seq) indexes, which are already in page order.
	weak := ""
	if !s.postgres {
		weak = "+"
	}
	actors := oneOf(f.Actor, f.Actors)
	if len(actors) > 0 {
		add(`actor `+inOrEqual(len(actors)), actors...)
	}
	if f.Action != "" {
		add(weak+`action = ?`, f.Action)
	}
	if f.Resource != "" {
		add(`resource = ?`, f.Resource)
	}
	if f.Effect != "" {
		add(weak+`effect = ?`, f.Effect)
	}
	if gws := oneOf(f.Gateway, f.Gateways); len(gws) > 0 {
		add(weak+`gateway `+inOrEqual(len(gws)), gws...)
	}
	if f.After > 0 {
		add(`seq > ?`, f.After)
	}
	// A time window also bounds the walk by sequence number (see
	// blocks.go), so that its last page stops at the window's start.
	if !f.Since.IsZero() {
		add(weak+`time >= ?`, nanos(f.Since))
	}
	if !f.Until.IsZero() {
		add(weak+`time < ?`, nanos(f.Until))
	}
	if !s.postgres {
		// SQLite evaluates the bounds once, before the walk.
		if !f.Since.IsZero() {
			add(sinceBlocks, nanos(f.Since))
		}
		if !f.Until.IsZero() {
			add(untilBlocks, nanos(f.Until))
		}
	} else if !f.Since.IsZero() || !f.Until.IsZero() {
		lo, hi, ok, err := s.blockBounds(ctx, f.Since, f.Until)
		if err != nil {
			return nil, err
		}
		if !ok {
			return []AuditEvent{}, nil
		}
		if !f.Since.IsZero() {
			add(`seq >= ?`, lo)
		}
		if !f.Until.IsZero() {
			add(`seq < ?`, hi)
		}
	}
	q := `SELECT ` + auditCols + ` FROM audit`
	order := `seq`
	if f.Query != "" {
		ws := queryWords(f.Query)
		if len(ws) == 0 {
			return []AuditEvent{}, nil // only punctuation: no word to find
		}
		switch {
		case s.postgres:
			// Planned for these words (see withCustomPlans): for a
			// rare word the GIN index, for a common one the primary
			// key newest first.
			add(`search @@ CAST(? AS tsquery)`, tsQuery(ws))
		default:
			x, err := s.ftsExpand(ctx, ws, len(actors) > 0 || f.Resource != "")
			if err != nil {
				return nil, err
			}
			if x.match == "" {
				return []AuditEvent{}, nil // a word begins no term
			}
			if len(actors) > 0 || f.Resource != "" {
				if x.few {
					// Few entries match the search (or a prefix
					// must be read in full anyway): collect them
					// once, then walk the actor or resource index.
					add(`seq IN (SELECT rowid FROM audit_fts WHERE audit_fts MATCH ?)`, x.match)
				} else {
					// Many match: walk the actor or resource index
					// in page order and ask the search index about
					// each entry; a page fills quickly.
					add(`EXISTS (SELECT 1 FROM audit_fts WHERE audit_fts.rowid = audit.seq AND audit_fts MATCH ?)`, x.match)
				}
				break
			}
			// Walk the search index newest first: FTS5 reads the
			// doclists of whole terms backwards and stops at the
			// page's end (a prefix it would read in full first,
			// which is why ftsExpand spells the terms out).
			q = `SELECT ` + auditCols + ` FROM audit_fts CROSS JOIN audit ON audit.seq = audit_fts.rowid`
			order = `audit_fts.rowid`
			where = append([]string{`audit_fts MATCH ?`}, where...)
			args = append([]any{x.match}, args...)
			if f.Before > 0 {
				// The cursor on the search index too, so that FTS5
				// starts there rather than filtering up to it.
				add(`audit_fts.rowid < ?`, f.Before)
			}
		}
	}
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY ` + order + ` DESC LIMIT ?`
	args = append(args, clampLimit(f.Limit))
	rows, err := s.query(ctx, s.db, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []AuditEvent{}
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, *e)
	}
	return out, s.wrap(rows.Err())
}

// CountAudit counts the log's entries.
func (s *DB) CountAudit(ctx context.Context) (int64, error) {
	var n int64
	err := s.row(ctx, s.db, `SELECT seq FROM audit_head WHERE id = 1`).Scan(&n)
	return n, s.wrap(err)
}

// VerifyAudit walks the whole chain in order and reports the first entry
// whose link, sequence or hash does not match, and whether the head
// record agrees with the last entry (which catches truncation).
func (s *DB) VerifyAudit(ctx context.Context) (*VerifyReport, error) {
	rep := &VerifyReport{OK: true}
	var headSeq int64
	var headHash string
	if err := s.row(ctx, s.db, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&headSeq, &headHash); err != nil {
		return nil, s.wrap(err)
	}
	prev := ""
	var last int64
	const page = 5000
	for {
		rows, err := s.query(ctx, s.db, `SELECT `+auditCols+` FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`, last, page)
		if err != nil {
			return nil, err
		}
		n := 0
		for rows.Next() {
			e, err := scanAudit(rows)
			if err != nil {
				rows.Close()
				return nil, s.wrap(err)
			}
			n++
			rep.Entries++
			switch {
			case e.Seq != last+1:
				rep.OK, rep.BrokenAt, rep.Reason = false, last+1, fmt.Sprintf("entry %d is missing", last+1)
			case e.PrevHash != prev:
				rep.OK, rep.BrokenAt, rep.Reason = false, e.Seq, "link to the previous entry does not match"
			case chainHash(prev, e) != e.Hash:
				rep.OK, rep.BrokenAt, rep.Reason = false, e.Seq, "entry does not match its hash"
			}
			if !rep.OK {
				rows.Close()
				return rep, nil
			}
			prev, last = e.Hash, e.Seq
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, s.wrap(err)
		}
		if n < page {
			break
		}
	}
	rep.Head = prev
	if last != headSeq || prev != headHash {
		rep.OK, rep.BrokenAt, rep.Reason = false, last+1, fmt.Sprintf("log ends at entry %d but the head records %d", last, headSeq)
		rep.Truncated = last < headSeq
	}
	return rep, nil
}

// oneOf is first and rest without empty strings and repeats, as query
// arguments: the values an IN (...) condition accepts.
func oneOf(first string, rest []string) []any {
	var out []any
	seen := map[string]bool{}
	for _, v := range append([]string{first}, rest...) {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// inOrEqual is "= ?" for one value, so that the plan for a single
// actor stays the index walk in page order, and "IN (?, ...)" for n.
func inOrEqual(n int) string {
	if n == 1 {
		return "= ?"
	}
	return "IN (" + placeholders(n) + ")"
}

// placeholders is n comma-separated parameter markers.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

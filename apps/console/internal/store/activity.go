package store

import (
	"context"
	"time"
)

// DecisionCount is how many decisions one actor got with one effect.
type DecisionCount struct {
	Actor  string `json:"actor"`
	Effect string `json:"effect"`
	Count  int    `json:"count"`
}

// DecisionCounts counts the decisions per actor and effect in the audit
// entries from the first one recorded at or after since, reading at most
// the newest limit entries. Entries arrive roughly in time order, so the
// first one is found by a binary search on seq, and the count is one
// aggregate over a range of the primary key: cheap however long the log.
// An event that a gateway spooled for a while counts by its place in the
// log, not by its own time.
func (s *DB) DecisionCounts(ctx context.Context, since time.Time, limit int) ([]DecisionCount, error) {
	var head int64
	if err := s.row(ctx, s.db, `SELECT seq FROM audit_head WHERE id = 1`).Scan(&head); err != nil {
		return nil, s.wrap(err)
	}
	out := []DecisionCount{}
	if head == 0 {
		return out, nil
	}
	floor := max(head-int64(limit)+1, 1)
	// Find the smallest seq in [floor, head+1) whose entry is at or
	// after since; head+1 means none is.
	lo, hi := floor, head+1
	at := nanos(since)
	for lo < hi {
		mid := lo + (hi-lo)/2
		var seq, t int64
		err := s.row(ctx, s.db, `SELECT seq, time FROM audit WHERE seq >= ? ORDER BY seq LIMIT 1`, mid).Scan(&seq, &t)
		if err != nil {
			return nil, s.wrap(err)
		}
		if t >= at {
			hi = mid
		} else {
			lo = seq + 1
		}
	}
	if lo > head {
		return out, nil
	}
	rows, err := s.query(ctx, s.db, `SELECT actor, effect, COUNT(*) FROM audit WHERE seq >= ? AND action = 'decision' GROUP BY actor, effect ORDER BY actor, effect`, lo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var c DecisionCount
		if err := rows.Scan(&c.Actor, &c.Effect, &c.Count); err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, c)
	}
	return out, s.wrap(rows.Err())
}

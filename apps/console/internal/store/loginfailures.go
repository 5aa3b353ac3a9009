package store

import (
	"context"
	"database/sql"
	"time"
)

// LoginFailures is the run of failed logins of one account from one
// source (a client address or network), which the console's login
// backoff reads. Runs are kept apart per source so that failures from
// one source never slow the account down from another.
type LoginFailures struct {
	UserID   string
	Source   string
	Failures int       // in the current run; 0 when there is none
	Last     time.Time // of the last failure
}

// LoginFailures returns the current run of failed logins of userID from
// source; a zero count when there is none.
func (s *DB) LoginFailures(ctx context.Context, userID, source string) (LoginFailures, error) {
	f := LoginFailures{UserID: userID, Source: source}
	var last int64
	err := s.row(ctx, s.db, `SELECT failures, last_failure FROM login_failures WHERE user_id = ? AND source = ?`, userID, source).Scan(&f.Failures, &last)
	if err == sql.ErrNoRows {
		return f, nil
	}
	f.Last = fromNanos(last)
	return f, s.wrap(err)
}

// RecordLoginFailure counts one more failed login of userID from source
// at now, atomically (concurrent failures all count), and returns the
// run it belongs to. A run whose last failure is more than forget before
// now is over and starts again at one. Runs of every account that ended
// that long ago are deleted on the way, which bounds the table by the
// sources that failed within forget.
func (s *DB) RecordLoginFailure(ctx context.Context, userID, source string, now time.Time, forget time.Duration) (LoginFailures, error) {
	f := LoginFailures{UserID: userID, Source: source, Last: now.UTC()}
	stale := nanos(now) - int64(forget)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `DELETE FROM login_failures WHERE last_failure < ? AND NOT (user_id = ? AND source = ?)`, stale, userID, source); err != nil {
			return err
		}
		return s.wrap(s.row(ctx, tx, `INSERT INTO login_failures (user_id, source, failures, last_failure) VALUES (?, ?, 1, ?)
ON CONFLICT (user_id, source) DO UPDATE SET
	failures = CASE WHEN login_failures.last_failure < ? THEN 1 ELSE login_failures.failures + 1 END,
	last_failure = excluded.last_failure
RETURNING failures`, userID, source, nanos(now), stale).Scan(&f.Failures))
	})
	return f, err
}

// ClearLoginFailures ends the run of failed logins of userID from
// source, or from every source when source is empty (an admin's
// unlock).
func (s *DB) ClearLoginFailures(ctx context.Context, userID, source string) error {
	_, err := s.exec(ctx, s.db, `DELETE FROM login_failures WHERE user_id = ? AND (? = '' OR source = ?)`, userID, source, source)
	return err
}

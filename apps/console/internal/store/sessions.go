package store

import (
	"context"
	"time"
)

// CreateSession stores a session.
func (s *DB) CreateSession(ctx context.Context, se *Session) error {
	_, err := s.exec(ctx, s.db, `INSERT INTO sessions (id, user_id, csrf, created, last_seen, mfa) VALUES (?,?,?,?,?,?)`,
		se.ID, se.UserID, se.CSRFHash, nanos(se.Created), nanos(se.LastSeen), se.MFA)
	return err
}

// Session returns a session by (hashed) id.
func (s *DB) Session(ctx context.Context, id string) (*Session, error) {
	se, err := scanSession(s.row(ctx, s.db, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
	if err != nil {
		return nil, s.wrap(err)
	}
	return se, nil
}

const sessionColumns = `id, user_id, csrf, created, last_seen, mfa, reauth`

func scanSession(sc interface{ Scan(...any) error }) (*Session, error) {
	var se Session
	var c, l, ra int64
	if err := sc.Scan(&se.ID, &se.UserID, &se.CSRFHash, &c, &l, &se.MFA, &ra); err != nil {
		return nil, err
	}
	se.Created, se.LastSeen = fromNanos(c), fromNanos(l)
	if ra != 0 {
		se.Reauth = fromNanos(ra)
	}
	return &se, nil
}

// UserSessions is every session of a user, oldest first.
func (s *DB) UserSessions(ctx context.Context, userID string) ([]Session, error) {
	rows, err := s.query(ctx, s.db, `SELECT `+sessionColumns+` FROM sessions WHERE user_id = ? ORDER BY created, id`, userID)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		se, err := scanSession(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, *se)
	}
	return out, s.wrap(rows.Err())
}

// SetSessionReauth records that a session's user re-entered her
// password at t.
func (s *DB) SetSessionReauth(ctx context.Context, id string, t time.Time) error {
	_, err := s.exec(ctx, s.db, `UPDATE sessions SET reauth = ? WHERE id = ?`, nanos(t), id)
	return s.wrap(err)
}

// TouchSession records activity on a session.
func (s *DB) TouchSession(ctx context.Context, id string, t time.Time) error {
	_, err := s.exec(ctx, s.db, `UPDATE sessions SET last_seen = ? WHERE id = ?`, nanos(t), id)
	return err
}

// DeleteSession ends a session.
func (s *DB) DeleteSession(ctx context.Context, id string) error {
	_, err := s.exec(ctx, s.db, `DELETE FROM sessions WHERE id = ?`, id)
	return err
}

// DeleteUserSessions ends every session of a user.
func (s *DB) DeleteUserSessions(ctx context.Context, userID string) error {
	_, err := s.exec(ctx, s.db, `DELETE FROM sessions WHERE user_id = ?`, userID)
	return err
}

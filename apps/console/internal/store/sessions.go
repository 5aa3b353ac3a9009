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
	var se Session
	var c, l int64
	err := s.row(ctx, s.db, `SELECT id, user_id, csrf, created, last_seen, mfa FROM sessions WHERE id = ?`, id).Scan(&se.ID, &se.UserID, &se.CSRFHash, &c, &l, &se.MFA)
	if err != nil {
		return nil, s.wrap(err)
	}
	se.Created, se.LastSeen = fromNanos(c), fromNanos(l)
	return &se, nil
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

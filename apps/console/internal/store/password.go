package store

import (
	"context"
	"fmt"
)

// SetPasswordHash replaces the user's password hash, and only that
// column, so that it never undoes a concurrent change to the rest of the
// row.
func (s *DB) SetPasswordHash(ctx context.Context, userID, hash string) error {
	if hash == "" {
		return fmt.Errorf("%w: empty password hash", ErrInvalid)
	}
	r, err := s.exec(ctx, s.db, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, userID)
	if err != nil {
		return s.wrap(err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteOtherSessions ends every session of a user but keep (the hashed
// id of the session that asked, which may be "").
func (s *DB) DeleteOtherSessions(ctx context.Context, userID, keep string) error {
	_, err := s.exec(ctx, s.db, `DELETE FROM sessions WHERE user_id = ? AND id <> ?`, userID, keep)
	return err
}

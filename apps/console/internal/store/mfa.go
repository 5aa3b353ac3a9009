package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
)

// A user's second factor is changed only through the methods of this
// file, each one targeted, conditional UPDATE: a login that read the user
// row earlier can never write an old secret, step or list of recovery
// codes back over a newer one. The store keeps the TOTP secret as the
// caller gives it (the console seals it first) and never interprets it.

// SetTOTPPending stores secret as the user's enrolment awaiting
// confirmation, replacing any earlier pending one. The secret in use, if
// any, stays in use until ConfirmTOTP.
func (s *DB) SetTOTPPending(ctx context.Context, userID, secret string) error {
	r, err := s.exec(ctx, s.db, `UPDATE users SET totp_pending = ? WHERE id = ?`, secret, userID)
	if err != nil {
		return s.wrap(err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// TOTPPending returns the user's enrolment awaiting confirmation, "" when
// there is none.
func (s *DB) TOTPPending(ctx context.Context, userID string) (string, error) {
	var p string
	err := s.row(ctx, s.db, `SELECT totp_pending FROM users WHERE id = ?`, userID).Scan(&p)
	return p, s.wrap(err)
}

// ConfirmTOTP makes the pending secret the user's TOTP secret, provided
// it is still pending (a concurrent new enrolment makes it ErrConflict),
// turns TOTP on, records step as used (the code that confirmed it cannot
// also log in) and replaces the recovery codes with the given hashes.
func (s *DB) ConfirmTOTP(ctx context.Context, userID, pending string, step int64, recoveryHashes []string) error {
	if pending == "" {
		return fmt.Errorf("%w: no pending TOTP secret", ErrInvalid)
	}
	rec, _ := json.Marshal(orEmpty(recoveryHashes))
	r, err := s.exec(ctx, s.db, `UPDATE users SET totp_secret = totp_pending, totp_pending = '', totp_enabled = ?, totp_last_step = ?, recovery_json = ? WHERE id = ? AND totp_pending = ?`,
		true, step, string(rec), userID, pending)
	if err != nil {
		return s.wrap(err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: the enrolment changed; start it again", ErrConflict)
	}
	return nil
}

// DisableTOTP turns the user's second factor off: the secret, any
// pending enrolment and every recovery code are removed.
func (s *DB) DisableTOTP(ctx context.Context, userID string) error {
	r, err := s.exec(ctx, s.db, `UPDATE users SET totp_secret = '', totp_pending = '', totp_enabled = ?, recovery_json = '[]' WHERE id = ?`, false, userID)
	if err != nil {
		return s.wrap(err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// UseTOTPStep records that a code of TOTP time step step was accepted for
// the user. It reports false, changing nothing, when a code of this or a
// later step was accepted already: of any number of concurrent calls with
// one step, exactly one reports true.
func (s *DB) UseTOTPStep(ctx context.Context, userID string, step int64) (bool, error) {
	r, err := s.exec(ctx, s.db, `UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?`, step, userID, step)
	if err != nil {
		return false, s.wrap(err)
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

// UseRecoveryCode removes hash from the user's unused recovery codes and
// reports whether it was one of them. The removal is a compare-and-swap
// on the whole list: of any number of concurrent calls with one code,
// exactly one reports true.
func (s *DB) UseRecoveryCode(ctx context.Context, userID, hash string) (bool, error) {
	if hash == "" {
		return false, nil
	}
	// Each lost race means another code of this user was used meanwhile;
	// a user has ten codes, so the loop ends.
	for range 32 {
		var cur string
		if err := s.row(ctx, s.db, `SELECT recovery_json FROM users WHERE id = ?`, userID).Scan(&cur); err != nil {
			return false, s.wrap(err)
		}
		var codes []string
		if err := json.Unmarshal([]byte(cur), &codes); err != nil {
			return false, fmt.Errorf("store: recovery codes of %s: %w", userID, err)
		}
		i := slices.Index(codes, hash)
		if i < 0 {
			return false, nil
		}
		next, _ := json.Marshal(orEmpty(slices.Delete(codes, i, i+1)))
		r, err := s.exec(ctx, s.db, `UPDATE users SET recovery_json = ? WHERE id = ? AND recovery_json = ?`, string(next), userID, cur)
		if err != nil {
			return false, s.wrap(err)
		}
		if n, _ := r.RowsAffected(); n == 1 {
			return true, nil
		}
	}
	return false, fmt.Errorf("%w: recovery codes of %s keep changing", ErrConflict, userID)
}

// ReplaceTOTPSecret replaces the user's TOTP secret old with secret,
// provided it is still old, and reports whether it did; the console uses
// it to seal secrets stored before they were sealed.
func (s *DB) ReplaceTOTPSecret(ctx context.Context, userID, old, secret string) (bool, error) {
	r, err := s.exec(ctx, s.db, `UPDATE users SET totp_secret = ? WHERE id = ? AND totp_secret = ?`, secret, userID, old)
	if err != nil {
		return false, s.wrap(err)
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

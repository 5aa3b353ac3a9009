package store

import (
	"context"
	"fmt"
	"time"
)

// CreateAlert stores an alert, filling in ID, Time and State.
func (s *DB) CreateAlert(ctx context.Context, a *Alert) error {
	if a.ID == "" {
		a.ID = NewID("a")
	}
	if a.Time.IsZero() {
		a.Time = nowUTC()
	}
	if a.State == "" {
		a.State = "open"
	}
	_, err := s.exec(ctx, s.db, `INSERT INTO alerts (id, time, severity, kind, subject, message, evidence, state) VALUES (?,?,?,?,?,?,?,?)`,
		a.ID, nanos(a.Time), a.Severity, a.Kind, a.Subject, a.Message, string(a.Evidence), a.State)
	return err
}

// ListAlerts returns alerts newest first, optionally in one state. The
// cursor is an alert id.
func (s *DB) ListAlerts(ctx context.Context, state string, o ListOptions) ([]Alert, error) {
	var before int64 = 1<<63 - 1
	if o.After != "" {
		var t int64
		if err := s.row(ctx, s.db, `SELECT time FROM alerts WHERE id = ?`, o.After).Scan(&t); err == nil {
			before = t
		}
	}
	rows, err := s.query(ctx, s.db, `SELECT id, time, severity, kind, subject, message, evidence, state FROM alerts WHERE time < ? AND (? = '' OR state = ?) AND (? = '' OR lower(subject) LIKE ? ESCAPE '\' OR lower(message) LIKE ? ESCAPE '\') ORDER BY time DESC LIMIT ?`,
		before, state, state, o.Query, like(o.Query), like(o.Query), o.limit())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Alert{}
	for rows.Next() {
		var a Alert
		var t int64
		var ev string
		if err := rows.Scan(&a.ID, &t, &a.Severity, &a.Kind, &a.Subject, &a.Message, &ev, &a.State); err != nil {
			return nil, s.wrap(err)
		}
		a.Time = fromNanos(t)
		if ev != "" {
			a.Evidence = []byte(ev)
		}
		out = append(out, a)
	}
	return out, s.wrap(rows.Err())
}

// Alert returns one alert by id.
func (s *DB) Alert(ctx context.Context, id string) (*Alert, error) {
	var a Alert
	var t int64
	var ev string
	err := s.row(ctx, s.db, `SELECT id, time, severity, kind, subject, message, evidence, state FROM alerts WHERE id = ?`, id).
		Scan(&a.ID, &t, &a.Severity, &a.Kind, &a.Subject, &a.Message, &ev, &a.State)
	if err != nil {
		return nil, s.wrap(err)
	}
	a.Time = fromNanos(t)
	if ev != "" {
		a.Evidence = []byte(ev)
	}
	return &a, nil
}

// CreateAPIKey stores a key; k.Hash is the hash of its secret.
func (s *DB) CreateAPIKey(ctx context.Context, k *APIKey) error {
	if !k.Role.Valid() || k.Hash == "" || k.Expires.IsZero() {
		return fmt.Errorf("%w: api key needs a role, a hash and an expiry", ErrInvalid)
	}
	if k.ID == "" {
		k.ID = NewID("k")
	}
	if k.Created.IsZero() {
		k.Created = nowUTC()
	}
	_, err := s.exec(ctx, s.db, `INSERT INTO api_keys (id, name, role, hash, created, last_used, revoked, owner, expires) VALUES (?,?,?,?,?,?,?,?,?)`,
		k.ID, k.Name, string(k.Role), k.Hash, nanos(k.Created), int64(0), false, k.Owner, nanos(k.Expires))
	return err
}

func scanKey(sc interface{ Scan(...any) error }) (*APIKey, error) {
	var k APIKey
	var c, u, e int64
	if err := sc.Scan(&k.ID, &k.Name, &k.Role, &k.Hash, &c, &u, &k.Revoked, &k.Owner, &e); err != nil {
		return nil, err
	}
	k.Created, k.LastUsed, k.Expires = fromNanos(c), fromNanos(u), fromNanos(e)
	return &k, nil
}

// APIKey returns one key by id.
func (s *DB) APIKey(ctx context.Context, id string) (*APIKey, error) {
	k, err := scanKey(s.row(ctx, s.db, `SELECT id, name, role, hash, created, last_used, revoked, owner, expires FROM api_keys WHERE id = ?`, id))
	return k, s.wrap(err)
}

// ListAPIKeys returns every key, newest first.
func (s *DB) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	rows, err := s.query(ctx, s.db, `SELECT id, name, role, hash, created, last_used, revoked, owner, expires FROM api_keys ORDER BY created DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []APIKey{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, *k)
	}
	return out, s.wrap(rows.Err())
}

// RevokeAPIKey refuses the key from now on.
func (s *DB) RevokeAPIKey(ctx context.Context, id string) error {
	r, err := s.exec(ctx, s.db, `UPDATE api_keys SET revoked = ? WHERE id = ?`, true, id)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// TouchAPIKey records the key's last use.
func (s *DB) TouchAPIKey(ctx context.Context, id string, t time.Time) error {
	_, err := s.exec(ctx, s.db, `UPDATE api_keys SET last_used = ? WHERE id = ?`, nanos(t), id)
	return err
}

// Setting returns a setting's value, or ErrNotFound.
func (s *DB) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := s.row(ctx, s.db, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	return v, s.wrap(err)
}

// SetSetting creates or replaces a setting.
func (s *DB) SetSetting(ctx context.Context, key, value string) error {
	_, err := s.exec(ctx, s.db, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

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

package store

import (
	"context"
	"fmt"
	"time"
)

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
	_, err := s.exec(ctx, s.db, `INSERT INTO api_keys (`+keyColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?)`,
		k.ID, k.Name, string(k.Role), k.Hash, nanos(k.Created), int64(0), false, k.Owner, nanos(k.Expires), k.Scope)
	return err
}

const keyColumns = `id, name, role, hash, created, last_used, revoked, owner, expires, scope`

func scanKey(sc interface{ Scan(...any) error }) (*APIKey, error) {
	var k APIKey
	var c, u, e int64
	if err := sc.Scan(&k.ID, &k.Name, &k.Role, &k.Hash, &c, &u, &k.Revoked, &k.Owner, &e, &k.Scope); err != nil {
		return nil, err
	}
	k.Created, k.LastUsed, k.Expires = fromNanos(c), fromNanos(u), fromNanos(e)
	return &k, nil
}

// APIKey returns one key by id.
func (s *DB) APIKey(ctx context.Context, id string) (*APIKey, error) {
	k, err := scanKey(s.row(ctx, s.db, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
	return k, s.wrap(err)
}

// ListAPIKeys returns every key, newest first.
func (s *DB) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	rows, err := s.query(ctx, s.db, `SELECT `+keyColumns+` FROM api_keys ORDER BY created DESC`)
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

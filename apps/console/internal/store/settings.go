package store

import (
	"context"
)

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

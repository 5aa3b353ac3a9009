package store

import (
	"context"
	"fmt"
)

// AddAlertOnce stores a, unless an alert with a.ID is stored already, and
// reports whether it stored it. Alerts gateways report carry an ID derived
// from their event's, so that a batch delivered twice stores each alert
// once. Time and State default as in CreateAlert; a.ID is required.
func (s *DB) AddAlertOnce(ctx context.Context, a *Alert) (bool, error) {
	if a.ID == "" {
		return false, fmt.Errorf("%w: alert needs an id", ErrInvalid)
	}
	if a.Time.IsZero() {
		a.Time = nowUTC()
	}
	if a.State == "" {
		a.State = "open"
	}
	r, err := s.exec(ctx, s.db, `INSERT INTO alerts (id, time, severity, kind, subject, message, evidence, state) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING`,
		a.ID, nanos(a.Time), a.Severity, a.Kind, a.Subject, a.Message, string(a.Evidence), a.State)
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n > 0, nil
}

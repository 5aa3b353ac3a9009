package store

import (
	"context"
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

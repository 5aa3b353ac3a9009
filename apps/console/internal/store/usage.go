package store

import (
	"context"
	"time"
)

// Usage is what a tenant's store holds, against its quotas and for the
// platform's view of its tenants.
type Usage struct {
	Users    int64 `json:"users"`
	Devices  int64 `json:"devices"`
	Gateways int64 `json:"gateways"` // not revoked
	Policies int64 `json:"policies"`
	// EventsToday is the audit entries logged since midnight UTC.
	EventsToday int64 `json:"events_today"`
}

// Usage counts what s holds.
func (s *DB) Usage(ctx context.Context) (Usage, error) {
	var u Usage
	midnight := nowUTC().Truncate(24 * time.Hour)
	err := s.row(ctx, s.db, `SELECT
	(SELECT COUNT(*) FROM users),
	(SELECT COUNT(*) FROM devices),
	(SELECT COUNT(*) FROM gateways WHERE NOT revoked),
	(SELECT COUNT(*) FROM policies),
	(SELECT COUNT(*) FROM audit WHERE seq >= COALESCE((SELECT MIN(block) * 1024 FROM audit_blocks WHERE max_time >= ?), 0) AND time >= ?)`,
		nanos(midnight), nanos(midnight)).Scan(&u.Users, &u.Devices, &u.Gateways, &u.Policies, &u.EventsToday)
	return u, s.wrap(err)
}

package domain

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Quotas. A tenant's quotas (store.Quotas, set by the platform) bound
// how many devices, gateways and policies its store holds; zero is no
// limit, which is what the default tenant of a single-tenant console
// has. A creation past a quota is a *ConflictError with Code
// "tenant_quota" that names the quota, and leaves everything as it was.
//
// The count and the creation are serialised per console process
// (quotaMu), so that concurrent requests to one console cannot overshoot;
// consoles sharing a database each check on their own, so they may
// overshoot by at most one creation per other replica.

// The quota of events per day bounds a tenant's audit log from midnight
// to midnight UTC: it counts every entry of the day, and it refuses
// gateways' events only; the console's own entries (what its users do)
// are never refused. A batch that would pass it is
// refused whole with an *EventQuotaError and nothing of it is stored:
// the gateway keeps it spooled and sends it again after midnight, or
// once the quota is raised, so that no event is lost to the quota.

// EventQuotaError refuses a gateway's batch of events past its tenant's
// quota of events per day until Retry.
type EventQuotaError struct {
	Limit int
	Retry time.Time
}

func (e *EventQuotaError) Error() string {
	return fmt.Sprintf("this organisation's quota of %d events per day is reached; the gateway keeps its events and sends them after %s, or ask the platform administrator for a larger quota",
		e.Limit, e.Retry.Format(time.RFC3339))
}

// quotaKind is what a quota counts.
type quotaKind string

const (
	quotaDevices  quotaKind = "devices"
	quotaGateways quotaKind = "gateways"
	quotaPolicies quotaKind = "policies"
	quotaEvents   quotaKind = "events"
)

// quotaLock serialises quota checks with the creations they allow.
type quotaLock struct{ mu sync.Mutex }

// withinQuota runs create if the tenant holds at most its quota of
// kind with n more, holding the quota lock across the count and the
// creation.
func (s *Service) withinQuota(ctx context.Context, kind quotaKind, n int, create func() error) error {
	s.quota.mu.Lock()
	defer s.quota.mu.Unlock()
	t, err := s.st.TenantInfo(ctx, s.st.TenantID())
	if err != nil {
		return fromStore(err)
	}
	q := t.Quotas
	limit := map[quotaKind]int{quotaDevices: q.Devices, quotaGateways: q.Gateways, quotaPolicies: q.Policies, quotaEvents: q.EventsPerDay}[kind]
	if limit > 0 {
		u, err := s.st.Usage(ctx)
		if err != nil {
			return fromStore(err)
		}
		held := map[quotaKind]int64{quotaDevices: u.Devices, quotaGateways: u.Gateways, quotaPolicies: u.Policies, quotaEvents: u.EventsToday}[kind]
		if held+int64(n) > int64(limit) {
			if kind == quotaEvents {
				return &EventQuotaError{Limit: limit, Retry: s.now().Truncate(24 * time.Hour).Add(24 * time.Hour)}
			}
			return &ConflictError{Code: "tenant_quota", Field: string(kind),
				Message: fmt.Sprintf("this organisation's quota of %d %s is reached; remove one first or ask the platform administrator for a larger quota", limit, kind)}
		}
	}
	return create()
}

package domain

import (
	"context"
	"fmt"
	"sync"
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

// quotaKind is what a quota counts.
type quotaKind string

const (
	quotaDevices  quotaKind = "devices"
	quotaGateways quotaKind = "gateways"
	quotaPolicies quotaKind = "policies"
)

// quotaLock serialises quota checks with the creations they allow.
type quotaLock struct{ mu sync.Mutex }

// withinQuota runs create if the tenant holds fewer than its quota of
// kind, holding the quota lock across the count and create.
func (s *Service) withinQuota(ctx context.Context, kind quotaKind, create func() error) error {
	s.quota.mu.Lock()
	defer s.quota.mu.Unlock()
	t, err := s.st.TenantInfo(ctx, s.st.TenantID())
	if err != nil {
		return fromStore(err)
	}
	limit := map[quotaKind]int{quotaDevices: t.Quotas.Devices, quotaGateways: t.Quotas.Gateways, quotaPolicies: t.Quotas.Policies}[kind]
	if limit > 0 {
		n, err := s.countOf(ctx, kind)
		if err != nil {
			return fromStore(err)
		}
		if n >= int64(limit) {
			return &ConflictError{Code: "tenant_quota", Field: string(kind),
				Message: fmt.Sprintf("this organisation's quota of %d %s is reached; remove one first or ask the platform administrator for a larger quota", limit, kind)}
		}
	}
	return create()
}

func (s *Service) countOf(ctx context.Context, kind quotaKind) (int64, error) {
	u, err := s.st.Usage(ctx)
	return map[quotaKind]int64{quotaDevices: u.Devices, quotaGateways: u.Gateways, quotaPolicies: u.Policies}[kind], err
}

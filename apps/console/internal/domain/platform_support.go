package domain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// Support access: a tenant's admins let the platform's administrators
// see the tenant's data for a while, with a role they choose, to help
// with a problem. Without a grant a platform administrator sees a
// tenant's usage and nothing of its data.
//
// Support access reads and never writes: a support request that would
// change anything is refused (the transport refuses every method but
// GET and HEAD), so that nothing it does outlives the grant — no user,
// API key, gateway or device it could create to keep access after the
// grant ends. The role bounds what it reads; only the auditor and
// viewer roles can be granted, since the other roles differ from these
// only in what they may change.
//
// Every grant and revocation is recorded in both the tenant's audit log
// and the platform's (the default tenant's); so is each administrator's
// first request under each grant (support.access), so that the tenant
// sees who looked.

// The bounds of a grant's duration.
const (
	MinSupportGrant = 15 * time.Minute
	MaxSupportGrant = 7 * 24 * time.Hour
)

// SupportRoles are the roles a support grant can carry.
var SupportRoles = []Role{RoleAuditor, RoleViewer}

// ErrNoSupportGrant is a platform administrator's request for a
// tenant's data without the tenant's grant in force.
var ErrNoSupportGrant = errors.New("this organisation has granted no support access, or it has ended")

// tenantAdmin refuses every actor but an admin of a tenant other than
// the root's own (whose admins are the platform's and need no grant).
func (p *Platform) tenantAdmin(a Actor) error {
	if a.Role != RoleAdmin {
		return ErrForbidden
	}
	if a.Tenant == "" || a.Tenant == p.def.TenantID() {
		return &ConflictError{Code: "platform_tenant", Message: "the platform's own organisation needs no support access: its admins are the platform's"}
	}
	return nil
}

// SupportGrant is the support access a's tenant has granted, zero when
// none is in force.
func (p *Platform) SupportGrant(ctx context.Context, a Actor) (store.Support, error) {
	if err := p.tenantAdmin(a); err != nil {
		return store.Support{}, err
	}
	t, err := p.root.TenantInfo(ctx, a.Tenant)
	if err != nil {
		return store.Support{}, fromStore(err)
	}
	if !t.Support.Active(p.def.now()) {
		return store.Support{}, nil
	}
	return t.Support, nil
}

// GrantSupport lets the platform's administrators read a's tenant's
// data with role for d, replacing any grant in force.
func (p *Platform) GrantSupport(ctx context.Context, a Actor, role Role, d time.Duration) (store.Support, error) {
	if err := p.tenantAdmin(a); err != nil {
		return store.Support{}, err
	}
	if !slices.Contains(SupportRoles, role) {
		return store.Support{}, &InvalidError{Field: "role", Message: fmt.Sprintf("support access is %s or %s", RoleAuditor, RoleViewer)}
	}
	if d < MinSupportGrant || d > MaxSupportGrant {
		return store.Support{}, &InvalidError{Field: "duration", Message: fmt.Sprintf("support access lasts from %s to %s", MinSupportGrant, MaxSupportGrant)}
	}
	g := store.Support{Role: string(role), Until: p.def.now().Add(d).Truncate(time.Second), GrantedBy: a.ID}
	if err := p.setSupport(ctx, a, "support.grant", g); err != nil {
		return store.Support{}, err
	}
	return g, nil
}

// RevokeSupport ends a's tenant's support grant at once.
func (p *Platform) RevokeSupport(ctx context.Context, a Actor) error {
	if err := p.tenantAdmin(a); err != nil {
		return err
	}
	return p.setSupport(ctx, a, "support.revoke", store.Support{})
}

func (p *Platform) setSupport(ctx context.Context, a Actor, action string, g store.Support) error {
	if err := p.root.SetTenantSupport(ctx, a.Tenant, g); err != nil {
		return fromStore(err)
	}
	detail := map[string]any{"role": g.Role, "until": g.Until}
	if s, err := p.Service(ctx, a.Tenant); err == nil {
		s.record(ctx, a, action, a.Tenant, "", detail)
	}
	p.def.record(ctx, a.fromTenant(), action, a.Tenant, "", detail)
	return nil
}

// SupportAccess is tenant's Service and the role a platform
// administrator reads it with while the tenant's grant is in force:
// ErrNoSupportGrant without one. The Service is for reading only (see
// above).
func (p *Platform) SupportAccess(ctx context.Context, a Actor, tenant string) (*Service, Role, error) {
	if err := platformAdmin(a); err != nil {
		return nil, "", err
	}
	if tenant == p.def.TenantID() {
		return nil, "", &InvalidError{Field: "tenant", Message: "the platform's own tenant needs no support access"}
	}
	t, err := p.root.TenantInfo(ctx, tenant)
	if err != nil {
		return nil, "", fromStore(err)
	}
	now := p.def.now()
	if !t.Support.Active(now) {
		return nil, "", ErrNoSupportGrant
	}
	s, err := p.Service(ctx, tenant)
	if err != nil {
		return nil, "", err
	}
	key := a.ID + "\x00" + tenant + "\x00" + t.Support.Until.String()
	p.mu.Lock()
	first := !p.supportSeen[key]
	if first && len(p.supportSeen) >= 4096 {
		// Bounded: forgetting only records a visit again.
		clear(p.supportSeen)
	}
	p.supportSeen[key] = true
	p.mu.Unlock()
	if first {
		detail := map[string]any{"role": t.Support.Role, "until": t.Support.Until}
		s.record(ctx, a.fromPlatform(), "support.access", tenant, "", detail)
		p.def.record(ctx, a, "support.access", tenant, "", detail)
	}
	return s, Role(t.Support.Role), nil
}

// fromTenant is a tenant's admin as the platform's audit log names her.
func (a Actor) fromTenant() Actor {
	a.ID = a.Tenant + ":" + a.ID
	a.Name = a.Tenant + ":" + a.Name
	return a
}

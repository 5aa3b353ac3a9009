package domain

import (
	"context"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// TenantExport is what a tenant is configured with, for the platform's
// administrators to hand over or archive: its users (without password
// hashes or second factors), groups, resources, policies, gateways and
// devices (without credentials) and settings. Its audit log is exported
// by the tenant's own auditors (GET /api/v1/audit/export).
type TenantExport struct {
	Tenant    store.Tenant
	Exported  time.Time
	Users     []User
	Groups    []Group
	Resources []Resource
	Policies  []Policy
	Gateways  []Gateway
	Devices   []Device
	Settings  []ConsoleSetting
}

// ExportTenant is tenant id's configuration. Exporting is recorded in
// the platform's audit log and in the tenant's own.
func (p *Platform) ExportTenant(ctx context.Context, a Actor, id string) (TenantExport, error) {
	if err := platformAdmin(a); err != nil {
		return TenantExport{}, err
	}
	t, err := p.root.TenantInfo(ctx, id)
	if err != nil {
		return TenantExport{}, fromStore(err)
	}
	st, err := p.root.Tenant(ctx, id)
	if err != nil {
		return TenantExport{}, fromStore(err)
	}
	s := p.serviceOf(st)
	x := TenantExport{Tenant: *t, Exported: s.now()}
	x.Tenant.Support = store.Support{}
	in := a.fromPlatform()
	if x.Users, err = allOf(func(o ListOptions) ([]User, error) { return s.ListUsers(ctx, in, o) }, func(u User) string { return u.ID }); err != nil {
		return TenantExport{}, err
	}
	if x.Groups, err = s.ListGroups(ctx, in); err != nil {
		return TenantExport{}, err
	}
	if x.Resources, err = allOf(func(o ListOptions) ([]Resource, error) { return s.ListResources(ctx, in, o) }, func(r Resource) string { return r.Name }); err != nil {
		return TenantExport{}, err
	}
	if x.Policies, err = allOf(func(o ListOptions) ([]Policy, error) { return s.ListPolicies(ctx, in, o) }, func(p Policy) string { return p.Name }); err != nil {
		return TenantExport{}, err
	}
	if x.Gateways, err = s.ListGateways(ctx); err != nil {
		return TenantExport{}, err
	}
	if x.Devices, err = allOf(func(o ListOptions) ([]Device, error) { return s.ListDevices(ctx, in, "", o) }, func(d Device) string { return d.ID }); err != nil {
		return TenantExport{}, err
	}
	x.Settings = s.ListSettings(ctx)
	detail := map[string]any{"users": len(x.Users), "devices": len(x.Devices), "policies": len(x.Policies)}
	p.def.record(ctx, a, "tenant.export", id, "", detail)
	if id != p.def.TenantID() {
		s.record(ctx, in, "tenant.export", id, "", detail)
	}
	return x, nil
}

// allOf walks a whole list, a page of listPage at a time.
func allOf[T any](list func(ListOptions) ([]T, error), key func(T) string) ([]T, error) {
	var out []T
	err := eachPage(func(after string) (string, int, error) {
		page, err := list(ListOptions{After: after, Limit: listPage})
		out = append(out, page...)
		return lastKey(len(page), func() string { return key(page[len(page)-1]) }), len(page), err
	})
	return out, err
}

package domain

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// The platform: the tenants one console serves. Each tenant has a
// Service of its own over its own store (store.DB.Tenant), so that an
// operation reaches only its tenant's rows, audit log and settings, and
// keeps caches of its own. The default tenant's Service is the one a
// single-tenant console has always had.
//
// The platform administrators are the admins of the default tenant,
// the organisation that runs the installation: they create, change,
// suspend and delete tenants and see their usage, and they see no other
// tenant's data, since their credentials are the default tenant's.

// Root is the store the console opened: the default tenant's, through
// which the tenants are listed and opened.
type Root interface {
	Store
	Tenant(ctx context.Context, id string) (*store.DB, error)
	CreateTenant(ctx context.Context, t *store.Tenant) error
	ListTenants(ctx context.Context) ([]store.Tenant, error)
	UpdateTenant(ctx context.Context, t *store.Tenant) error
	DeleteTenant(ctx context.Context, id string) error
	SetTenantSupport(ctx context.Context, id string, g store.Support) error
}

// A tenant's quotas, usage and support grant, as the platform shows them.
type (
	Quotas  = store.Quotas
	Usage   = store.Usage
	Support = store.Support
)

// ValidTenantID reports whether id is a tenant id: 2 to 30 lower-case
// letters and digits, starting with a letter.
func ValidTenantID(id string) bool { return store.ValidTenantID(id) }

// DefaultTenant is the tenant of a single-tenant console.
const DefaultTenant = store.DefaultTenant

// ErrTenantSuspended is an operation in a suspended tenant.
var ErrTenantSuspended = errors.New("this organisation is suspended; ask the platform administrator")

// Platform holds one Service per tenant.
type Platform struct {
	root Root
	opts Options
	def  *Service

	mu   sync.Mutex // guards svcs, infos and supportSeen
	svcs map[string]*Service
	// infos are the tenants as last read, for tenantInfoTTL: every
	// request of a tenant asks whether it is suspended.
	infos map[string]tenantInfo
	// infoGen counts the changes of tenants (forgetTenant).
	infoGen uint64
	// supportSeen holds the support visits already recorded, by
	// platform administrator, tenant and grant (see SupportAccess).
	supportSeen map[string]bool
}

// NewPlatform serves root's tenants, each with opts.
func NewPlatform(root Root, opts Options) (*Platform, error) {
	def, err := New(root, opts)
	if err != nil {
		return nil, err
	}
	return &Platform{root: root, opts: opts, def: def, svcs: map[string]*Service{}, infos: map[string]tenantInfo{}, supportSeen: map[string]bool{}}, nil
}

// Default is the default tenant's Service.
func (p *Platform) Default() *Service { return p.def }

// Opened is the Service of every tenant opened so far, the default
// tenant's first: the ones with work in this process, such as audit
// checkpoints to sign.
func (p *Platform) Opened() []*Service {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := []*Service{p.def}
	for _, s := range p.svcs {
		out = append(out, s)
	}
	return out
}

// HasTenants reports whether any tenant besides the default exists (the
// login form asks for an organisation only then).
func (p *Platform) HasTenants(ctx context.Context) bool {
	ts, err := p.root.ListTenants(ctx)
	return err == nil && slices.ContainsFunc(ts, func(t store.Tenant) bool { return t.ID != p.def.TenantID() })
}

// TenantID is the id of the Service's tenant.
func (s *Service) TenantID() string { return s.st.TenantID() }

// Service is tenant id's Service: ErrNotFound for a tenant that does not
// exist, ErrTenantSuspended for one that is suspended.
func (p *Platform) Service(ctx context.Context, id string) (*Service, error) {
	if id == "" || id == p.def.TenantID() {
		// The root's own tenant: the default one, except where a
		// console is run over a tenant's store alone (as tests do).
		return p.def, nil
	}
	t, err := p.tenantInfo(ctx, id)
	if err != nil {
		return nil, err
	}
	if t.Suspended {
		return nil, ErrTenantSuspended
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.svcs[id]; ok {
		return s, nil
	}
	st, err := p.root.Tenant(ctx, id)
	if err != nil {
		return nil, fromStore(err)
	}
	s, err := New(st, p.opts)
	if err != nil {
		return nil, err
	}
	p.svcs[id] = s
	return s, nil
}

// tenantInfoTTL is how long Service believes what it read of a tenant:
// a suspension by this process holds at once, one by another replica
// within this long.
const tenantInfoTTL = 2 * time.Second

type tenantInfo struct {
	t    store.Tenant
	read time.Time
}

// tenantInfo is tenant id, read at most tenantInfoTTL ago.
func (p *Platform) tenantInfo(ctx context.Context, id string) (store.Tenant, error) {
	now := p.def.now()
	p.mu.Lock()
	ti, ok := p.infos[id]
	gen := p.infoGen
	p.mu.Unlock()
	if ok && now.Sub(ti.read) < tenantInfoTTL && !now.Before(ti.read) {
		return ti.t, nil
	}
	t, err := p.root.TenantInfo(ctx, id)
	if err != nil {
		return store.Tenant{}, fromStore(err)
	}
	p.mu.Lock()
	// A change since the read (forgetTenant) makes what was read too
	// old to remember.
	if p.infoGen == gen {
		p.infos[id] = tenantInfo{t: *t, read: now}
	}
	p.mu.Unlock()
	return *t, nil
}

// forgetTenant drops what is remembered of tenant id, after a change,
// and keeps reads begun before it from remembering what they read.
func (p *Platform) forgetTenant(id string) {
	p.mu.Lock()
	delete(p.infos, id)
	p.infoGen++
	p.mu.Unlock()
}

// Tenant is a tenant with what it holds.
type Tenant struct {
	store.Tenant
	Usage store.Usage `json:"usage"`
}

// NewTenant is what CreateTenant needs.
type NewTenant struct {
	ID, Name string
	Quotas   store.Quotas
}

// TenantChange changes a tenant; nil fields stay.
type TenantChange struct {
	Name      *string
	Suspended *bool
	Quotas    *store.Quotas
}

// platformAdmin refuses every actor but an admin of the default tenant.
func platformAdmin(a Actor) error {
	if a.Role != RoleAdmin || (a.Tenant != "" && a.Tenant != DefaultTenant) {
		return ErrForbidden
	}
	return nil
}

// ListTenants is every tenant with its usage.
func (p *Platform) ListTenants(ctx context.Context, a Actor) ([]Tenant, error) {
	if err := platformAdmin(a); err != nil {
		return nil, err
	}
	ts, err := p.root.ListTenants(ctx)
	if err != nil {
		return nil, fromStore(err)
	}
	out := make([]Tenant, 0, len(ts))
	for _, t := range ts {
		tu, err := p.withUsage(ctx, t)
		if err != nil {
			return nil, err
		}
		out = append(out, tu)
	}
	return out, nil
}

// withUsage is t with what it holds.
func (p *Platform) withUsage(ctx context.Context, t store.Tenant) (Tenant, error) {
	st, err := p.root.Tenant(ctx, t.ID)
	if err != nil {
		return Tenant{}, fromStore(err)
	}
	u, err := st.Usage(ctx)
	if err != nil {
		return Tenant{}, fromStore(err)
	}
	return Tenant{Tenant: t, Usage: u}, nil
}

// TenantUsage is tenant id with its usage.
func (p *Platform) TenantUsage(ctx context.Context, a Actor, id string) (Tenant, error) {
	if err := platformAdmin(a); err != nil {
		return Tenant{}, err
	}
	t, err := p.root.TenantInfo(ctx, id)
	if err != nil {
		return Tenant{}, fromStore(err)
	}
	return p.withUsage(ctx, *t)
}

// CreateTenant adds a tenant, recorded in the platform's audit log and in
// the new tenant's own.
func (p *Platform) CreateTenant(ctx context.Context, a Actor, in NewTenant) (Tenant, error) {
	if err := platformAdmin(a); err != nil {
		return Tenant{}, err
	}
	in.ID = strings.TrimSpace(in.ID)
	if !store.ValidTenantID(in.ID) || in.ID == DefaultTenant {
		return Tenant{}, &InvalidError{Field: "id", Message: "2 to 30 lower-case letters and digits, starting with a letter"}
	}
	t := &store.Tenant{ID: in.ID, Name: strings.TrimSpace(in.Name), Quotas: in.Quotas}
	if err := p.root.CreateTenant(ctx, t); err != nil {
		var ce *store.ConflictError
		if errors.As(err, &ce) {
			return Tenant{}, &ConflictError{Code: "conflict", Field: "id", Message: "a tenant with this id exists"}
		}
		return Tenant{}, fromStore(err)
	}
	detail := map[string]any{"name": t.Name, "quotas": t.Quotas}
	p.def.record(ctx, a, "tenant.create", t.ID, "", detail)
	if s, err := p.Service(ctx, t.ID); err == nil {
		s.record(ctx, a.fromPlatform(), "tenant.create", t.ID, "", detail)
	}
	return Tenant{Tenant: *t}, nil
}

// UpdateTenant renames, suspends or resumes a tenant or sets its quotas.
// A suspended tenant's Service is refused (ErrTenantSuspended).
func (p *Platform) UpdateTenant(ctx context.Context, a Actor, id string, in TenantChange) (Tenant, error) {
	if err := platformAdmin(a); err != nil {
		return Tenant{}, err
	}
	t, err := p.root.TenantInfo(ctx, id)
	if err != nil {
		return Tenant{}, fromStore(err)
	}
	if in.Name != nil {
		t.Name = strings.TrimSpace(*in.Name)
	}
	if in.Suspended != nil {
		t.Suspended = *in.Suspended
	}
	if in.Quotas != nil {
		t.Quotas = *in.Quotas
	}
	if err := p.root.UpdateTenant(ctx, t); err != nil {
		return Tenant{}, fromStore(err)
	}
	p.forgetTenant(id)
	detail := map[string]any{"name": t.Name, "suspended": t.Suspended, "quotas": t.Quotas}
	p.def.record(ctx, a, "tenant.update", id, "", detail)
	if st, err := p.root.Tenant(ctx, id); err == nil && id != DefaultTenant {
		// Recorded even in a suspended tenant: its admins see why.
		p.serviceOf(st).record(ctx, a.fromPlatform(), "tenant.update", id, "", detail)
	}
	return Tenant{Tenant: *t}, nil
}

// serviceOf is the cached Service of a tenant's store, or a new one,
// whatever the tenant's suspension.
func (p *Platform) serviceOf(st *store.DB) *Service {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.svcs[st.TenantID()]; ok {
		return s
	}
	s, err := New(st, p.opts)
	if err != nil {
		return p.def
	}
	p.svcs[st.TenantID()] = s
	return s
}

// DeleteTenant deletes a tenant and everything it holds. Only a
// suspended tenant may be deleted, so that deleting is two deliberate
// steps; the platform's audit log keeps the record.
func (p *Platform) DeleteTenant(ctx context.Context, a Actor, id string) error {
	if err := platformAdmin(a); err != nil {
		return err
	}
	if id == DefaultTenant {
		return &InvalidError{Field: "id", Message: "the default tenant cannot be deleted"}
	}
	t, err := p.root.TenantInfo(ctx, id)
	if err != nil {
		return fromStore(err)
	}
	if !t.Suspended {
		return &ConflictError{Code: "not_suspended", Field: "suspended", Message: "suspend the tenant before deleting it"}
	}
	p.mu.Lock()
	delete(p.svcs, id)
	p.mu.Unlock()
	p.forgetTenant(id)
	if err := p.root.DeleteTenant(ctx, id); err != nil {
		return fromStore(err)
	}
	p.def.record(ctx, a, "tenant.delete", id, "", map[string]any{"name": t.Name})
	return nil
}

// fromPlatform is a platform administrator as another tenant's audit log
// names her.
func (a Actor) fromPlatform() Actor {
	a.ID = "platform:" + a.ID
	a.Name = "platform:" + a.Name
	return a
}

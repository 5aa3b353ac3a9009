package server

import (
	"net/netip"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// principal is who makes a request.
type principal struct {
	// dom is the principal's tenant's Service: every operation of the
	// request goes through it, so that it reaches only that tenant's
	// data (see domain.Platform). tenant is its id.
	dom    *domain.Service
	tenant string

	user    *domain.User
	role    domain.Role
	session *domain.Session // nil for API keys
	apiKey  *domain.APIKey
	gateway *domain.Gateway
	// support is set when a platform administrator reads the tenant
	// under its support grant (see auth_support.go): user and session
	// are hers, in the root's tenant; role is the grant's.
	support bool

	// addr is the client's address, as trusted_proxies decides it.
	addr netip.Addr

	// csrf is the session's CSRF token, for pages to carry; the store
	// has only its hash.
	csrf string
	// flashKey signs and checks this client's flash cookie (see
	// page_flash.go); nil for gateways and anonymous requests.
	flashKey []byte
}

// stateKey is the key of what the server keeps in memory about one of
// the principal's tenant's things (kind and id): a rate limit's bucket,
// say. Every such key is made here, so that no state is shared across
// tenants, whose ids are theirs to choose.
func (p *principal) stateKey(kind, id string) string {
	return p.tenant + "/" + kind + ":" + id
}

// actor is how audit entries name the principal: by a stable id (a
// user's id, "apikey:<key id>"), as gateways name the users they report,
// so that one person is one actor in the log however her email changes.
// Pages turn the id back into a name (see domain/names.go).
func (p *principal) actor() string {
	switch {
	case p == nil:
		return "anonymous"
	case p.support && p.user != nil:
		return "platform:" + p.user.ID
	case p.support && p.apiKey != nil:
		return "platform:apikey:" + p.apiKey.ID
	case p.user != nil:
		return p.user.ID
	case p.apiKey != nil:
		return "apikey:" + p.apiKey.ID
	case p.gateway != nil:
		return "gateway:" + p.gateway.Name
	}
	return "anonymous"
}

// domainActor is the principal as the domain's operations see her.
func (p *principal) domainActor() domain.Actor {
	a := domain.Actor{ID: p.actor(), Name: p.name()}
	if p == nil {
		return a
	}
	a.Tenant = p.tenant
	a.Role = p.role
	a.Addr = p.addr
	a.MFA = p.session != nil && p.session.MFA
	switch {
	case p.support:
		// Nobody of the tenant: no operation is hers there.
	case p.user != nil:
		a.UserID = p.user.ID
	case p.apiKey != nil:
		a.UserID = p.apiKey.Owner
	}
	return a
}

// name is how pages greet the principal: by email or key name.
func (p *principal) name() string {
	switch {
	case p == nil:
		return "anonymous"
	case p.support && p.user != nil:
		return "platform:" + p.user.Email
	case p.user != nil:
		return p.user.Email
	case p.apiKey != nil:
		return "apikey:" + p.apiKey.Name
	case p.gateway != nil:
		return "gateway:" + p.gateway.Name
	}
	return "anonymous"
}

type ctxKey struct{}

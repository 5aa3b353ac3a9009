package domain

import (
	"net/netip"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// Role is a console role (see store.Role for what each may do).
type Role = store.Role

// The five roles.
const (
	RoleAdmin        = store.RoleAdmin
	RoleOperator     = store.RoleOperator
	RolePolicyEditor = store.RolePolicyEditor
	RoleAuditor      = store.RoleAuditor
	RoleViewer       = store.RoleViewer
)

// Roles lists every role.
var Roles = store.Roles

// Actor is who performs an operation, as the transport authenticated
// her. Operations trust it: deciding whether a route may be used at all
// is the transport's route table; deciding whether this actor may do
// this to this thing (her own device, a role she covers) is the
// operation's.
type Actor struct {
	// ID names the actor in the audit log by a stable id: a user's id,
	// "apikey:<key id>", "gateway:<name>", or "anonymous".
	ID string
	// UserID is the user acting, or the owner of the API key acting;
	// "" for gateways and anonymous callers.
	UserID string
	// Role is what the actor may do.
	Role Role
	// Tenant is the tenant whose credential the actor presented; "" is
	// the default tenant (see Platform).
	Tenant string
	// Name is how the actor signs what she writes (a policy version's
	// author): a user's email, "apikey:<key name>", "gateway:<name>".
	Name string

	// Addr is the client address the request came from, as the
	// transport decided it; invalid when unknown.
	Addr netip.Addr

	// Devices: MFA is set when the actor's session was opened with a
	// second factor; enrolling and renewing one's own device then sets
	// the device's MFA time.
	MFA bool
}

// Anonymous is the actor of requests made before signing in.
var Anonymous = Actor{ID: "anonymous"}

// isUser reports whether a is a signed-in user acting herself (a
// session), not an API key acting for its owner.
func (a Actor) isUser() bool { return a.UserID != "" && a.ID == a.UserID }

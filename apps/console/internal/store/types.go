package store

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/netip"
	"time"
)

// Role is a console role. Roles are ordered by what they may do only
// through the server's route table; the store just keeps the name.
type Role string

// The console's roles.
const (
	RoleAdmin        Role = "admin"
	RoleOperator     Role = "operator"
	RolePolicyEditor Role = "policy_editor"
	RoleAuditor      Role = "auditor"
	RoleViewer       Role = "viewer"
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RoleOperator, RolePolicyEditor, RoleAuditor, RoleViewer}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// User is a console account and a policy subject.
type User struct {
	ID           string    `json:"id"`
	Email        string    `json:"email"`
	Name         string    `json:"name"`
	Role         Role      `json:"role"`
	Groups       []string  `json:"groups"`
	PasswordHash string    `json:"-"`
	TOTPSecret   string    `json:"-"` // as the console stored it: sealed (see ConfirmTOTP)
	TOTPEnabled  bool      `json:"totp_enabled"`
	Recovery     []string  `json:"-"` // hashed recovery codes, unused ones
	Disabled     bool      `json:"disabled"`
	Created      time.Time `json:"created"`
	// Version moves on with every change of the row; UpdateUser
	// succeeds only on the version it was read at.
	Version int64 `json:"version"`
}

// Group is a named set of users, used by policy as subject.groups.
type Group struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Device is an enrolled WireGuard peer.
type Device struct {
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	Owner          string          `json:"owner"` // user id
	PublicKey      string          `json:"public_key"`
	Address        string          `json:"address"`
	Posture        json.RawMessage `json:"posture,omitempty"`
	Disabled       bool            `json:"disabled"`
	Created        time.Time       `json:"created"`
	LastSeen       time.Time       `json:"last_seen,omitzero"`
	SessionExpires time.Time       `json:"session_expires,omitzero"`
	MFATime        time.Time       `json:"mfa_time,omitzero"`
	// Network is the pool Address was allocated from; empty for an
	// address set by hand. (Network, Address) is unique.
	Network string `json:"network,omitempty"`
	// PostureSource says who asserted Posture: PosturePerson when a
	// console user or API key set it, PostureDevice when the device or
	// a gateway reported it; empty when there is no posture.
	PostureSource string `json:"posture_source,omitempty"`
}

// Posture sources.
const (
	PosturePerson = "person"
	PostureDevice = "device"
)

// Resource is a protected resource.
type Resource struct {
	Name    string            `json:"name"`
	Kind    string            `json:"kind"`
	Address string            `json:"address"`
	Port    int               `json:"port"`
	Labels  map[string]string `json:"labels"`
	Gateway string            `json:"gateway,omitempty"`
	Note    string            `json:"note,omitempty"`
}

// Policy is a policy document at its current version.
type Policy struct {
	Name    string    `json:"name"`
	Version int       `json:"version"`
	Source  string    `json:"source"`
	Author  string    `json:"author"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
	Enabled bool      `json:"enabled"`
}

// PolicyVersion is one saved version of a policy; versions are never
// changed or deleted.
type PolicyVersion struct {
	Name    string    `json:"name"`
	Version int       `json:"version"`
	Source  string    `json:"source"`
	Author  string    `json:"author"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
}

// Gateway is a registered (or awaiting registration) gateway.
type Gateway struct {
	ID            string          `json:"id"`
	Name          string          `json:"name"`
	TokenHash     string          `json:"-"`
	TokenExpires  time.Time       `json:"token_expires,omitzero"`
	SecretHash    string          `json:"-"`
	Registered    time.Time       `json:"registered,omitzero"`
	Revoked       bool            `json:"revoked"`
	LastSeen      time.Time       `json:"last_seen,omitzero"`
	BundleVersion int64           `json:"bundle_version"`
	Status        json.RawMessage `json:"status,omitempty"`
	Created       time.Time       `json:"created"`
}

// AuditEvent is one entry of the audit log.
type AuditEvent struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`  // user id, "gateway:<name>", a console user's email, "system"
	Action   string    `json:"action"` // decision, flow, login, policy.save, ...
	Resource string    `json:"resource,omitempty"`
	Effect   string    `json:"effect,omitempty"`
	Gateway  string    `json:"gateway,omitempty"`
	EventID  string    `json:"event_id,omitempty"`
	// Detail is free-form JSON: the decided request, a diff summary, ...
	Detail   json.RawMessage `json:"detail,omitempty"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	Actor, Action, Resource, Effect, Gateway string
	// Actors and Gateways widen Actor and Gateway: an entry matches
	// when its actor is Actor or one of Actors (its gateway Gateway or
	// one of Gateways). The console fills them with the ids a name
	// stands for (see DB.NameIDs).
	Actors, Gateways []string
	Since, Until     time.Time
	// Query is a full-text search of actor, action, resource and
	// detail, case-insensitive: every word of it must be the start of a
	// word of the entry, or of a part of one after a . - _ : @ or /
	// ("example.com" and "user042" find "user042@example.com",
	// "10.1.2" finds "10.1.2.3"; "xample" finds nothing). Words past
	// the 16th are ignored. See search.go.
	Query string
	// Before returns entries with Seq < Before (the cursor); 0: newest.
	Before int64
	// After returns entries with Seq > After: those appended since an
	// entry already read. 0: no bound.
	After int64
	// Limit defaults to 50 and is capped at 1000.
	Limit int
}

// VerifyReport is the result of walking the audit chain.
type VerifyReport struct {
	Entries int64 `json:"entries"`
	OK      bool  `json:"ok"`
	// BrokenAt is the first entry whose hash or link does not match.
	BrokenAt int64  `json:"broken_at,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Head     string `json:"head"`
	// Truncated says that entries were removed from the log's end: the
	// head record or a signed checkpoint names an entry past it.
	Truncated bool `json:"truncated,omitempty"`
	// Checkpoints is how many signed checkpoints matched the chain, the
	// last of them at entry SignedThrough; entries after it are held by
	// the chain alone. SignaturesChecked is false when no public key was
	// given, so only the checkpoints' hashes were compared.
	Checkpoints       int   `json:"checkpoints"`
	SignedThrough     int64 `json:"signed_through,omitempty"`
	SignaturesChecked bool  `json:"signatures_checked"`
}

// Alert is an analytics alert.
type Alert struct {
	ID       string          `json:"id"`
	Time     time.Time       `json:"time"`
	Severity string          `json:"severity"`
	Kind     string          `json:"kind"`
	Subject  string          `json:"subject"`
	Message  string          `json:"message"`
	Evidence json.RawMessage `json:"evidence,omitempty"`
	State    string          `json:"state"` // open, acknowledged, resolved
}

// APIKey is an automation credential scoped to a role. It acts for its
// Owner, a user id, with at most that user's current permissions; Owner
// is empty only for keys made outside the REST API (by the console's
// own tools, and keys that predate owners, which migration 7 gave an
// expiry of 30 days). A key is refused after Expires.
type APIKey struct {
	ID       string    `json:"id"` // also the public prefix of the key
	Name     string    `json:"name"`
	Role     Role      `json:"role"`
	Owner    string    `json:"owner"`
	Hash     string    `json:"-"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
	LastUsed time.Time `json:"last_used,omitzero"`
	Revoked  bool      `json:"revoked"`
	// Scope narrows the role: "" none, else what domain.ParseScope reads.
	Scope string `json:"scope,omitempty"`
}

// Session is a web session; ID is the SHA-256 of the cookie value and
// CSRFHash the SHA-256 of its CSRF token, so that neither secret can be
// read back from the store.
type Session struct {
	ID       string
	UserID   string
	CSRFHash string
	Created  time.Time
	LastSeen time.Time
	MFA      bool
	// Reauth is when the user last re-entered her password in this
	// session; zero if never since the sign-in.
	Reauth time.Time
}

// ListOptions page through a list ordered by key.
type ListOptions struct {
	// After is the cursor: the last key of the previous page.
	After string
	// Limit defaults to 50 and is capped at 1000.
	Limit int
	// Query is a case-insensitive substring filter on the main text
	// fields.
	Query string
}

func (o ListOptions) limit() int { return clampLimit(o.Limit) }

func clampLimit(n int) int {
	if n <= 0 {
		return 50
	}
	return min(n, 1000)
}

// Store is everything the console keeps.
type Store interface {
	Close() error
	// Backend is "sqlite" or "postgres".
	Backend() string
	ConfigVersion(ctx context.Context) (int64, error)

	CreateUser(ctx context.Context, u *User) error
	UpdateUser(ctx context.Context, u *User) error
	User(ctx context.Context, id string) (*User, error)
	UserByEmail(ctx context.Context, email string) (*User, error)
	// DisplayNames and NameIDs translate between the ids events carry
	// and the names people use (see names.go).
	DisplayNames(ctx context.Context, ids []string) (map[string]string, error)
	NameIDs(ctx context.Context, name string) ([]string, error)
	ListUsers(ctx context.Context, o ListOptions) ([]User, error)

	// Failed logins, per account and source (see loginfailures.go).
	LoginFailures(ctx context.Context, userID, source string) (LoginFailures, error)
	RecordLoginFailure(ctx context.Context, userID, source string, now time.Time, forget time.Duration) (LoginFailures, error)
	ClearLoginFailures(ctx context.Context, userID, source string) error

	PutGroup(ctx context.Context, g Group) error
	DeleteGroup(ctx context.Context, name string) error
	ListGroups(ctx context.Context) ([]Group, error)

	CreateDevice(ctx context.Context, d *Device) error
	AllocateDevice(ctx context.Context, d *Device, pool netip.Prefix, quota int) error
	UpdateDevice(ctx context.Context, d *Device) error
	DeleteDevice(ctx context.Context, id string) error
	Device(ctx context.Context, id string) (*Device, error)
	ListDevices(ctx context.Context, owner string, o ListOptions) ([]Device, error)
	CountDevices(ctx context.Context) (int64, error)

	PutResource(ctx context.Context, r *Resource) error
	DeleteResource(ctx context.Context, name string) error
	Resource(ctx context.Context, name string) (*Resource, error)
	ListResources(ctx context.Context, o ListOptions) ([]Resource, error)

	SavePolicy(ctx context.Context, name, source, author, message string) (*PolicyVersion, error)
	Policy(ctx context.Context, name string) (*Policy, error)
	ListPolicies(ctx context.Context, o ListOptions) ([]Policy, error)
	PolicyVersions(ctx context.Context, name string) ([]PolicyVersion, error)
	PolicyVersion(ctx context.Context, name string, version int) (*PolicyVersion, error)
	DeletePolicy(ctx context.Context, name string) error

	CreateGateway(ctx context.Context, g *Gateway) error
	RegisterGateway(ctx context.Context, tokenHash, secretHash string, now time.Time) (*Gateway, error)
	Gateway(ctx context.Context, id string) (*Gateway, error)
	ListGateways(ctx context.Context) ([]Gateway, error)
	UpdateGatewayStatus(ctx context.Context, id string, seen time.Time, bundle int64, status []byte) error
	RevokeGateway(ctx context.Context, id string) error

	AppendAudit(ctx context.Context, events []AuditEvent) (added, duplicates int, err error)
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
	VerifyAudit(ctx context.Context) (*VerifyReport, error)
	VerifyAuditSigned(ctx context.Context, pub ed25519.PublicKey, exported []AuditCheckpoint) (*VerifyReport, error)
	AuditHead(ctx context.Context) (seq int64, hash string, err error)
	AddAuditCheckpoint(ctx context.Context, c *AuditCheckpoint) error
	LastAuditCheckpoint(ctx context.Context) (*AuditCheckpoint, error)
	ListAuditCheckpoints(ctx context.Context, after int64, limit int) ([]AuditCheckpoint, error)
	CountAudit(ctx context.Context) (int64, error)
	DecisionCounts(ctx context.Context, since time.Time, limit int) ([]DecisionCount, error)

	CreateAlert(ctx context.Context, a *Alert) error
	ListAlerts(ctx context.Context, state string, o ListOptions) ([]Alert, error)
	Alert(ctx context.Context, id string) (*Alert, error)
	SetAlertState(ctx context.Context, id, state string) error
	// AddAlertOnce stores an alert unless its ID is stored already.
	AddAlertOnce(ctx context.Context, a *Alert) (bool, error)

	CreateAPIKey(ctx context.Context, k *APIKey) error
	APIKey(ctx context.Context, id string) (*APIKey, error)
	ListAPIKeys(ctx context.Context) ([]APIKey, error)
	RevokeAPIKey(ctx context.Context, id string) error
	TouchAPIKey(ctx context.Context, id string, t time.Time) error

	// Identity providers (see identityproviders.go).
	CreateIdentityProvider(ctx context.Context, p *IdentityProvider) error
	IdentityProvider(ctx context.Context, id string) (*IdentityProvider, error)
	ListIdentityProviders(ctx context.Context) ([]IdentityProvider, error)
	UpdateIdentityProvider(ctx context.Context, p *IdentityProvider) error
	DeleteIdentityProvider(ctx context.Context, id string) error

	// Tenants (see tenants.go): the tenant this store is, the list the
	// platform keeps, and what this store holds.
	TenantID() string
	TenantInfo(ctx context.Context, id string) (*Tenant, error)
	Usage(ctx context.Context) (Usage, error)

	Setting(ctx context.Context, key string) (string, error)
	SetSetting(ctx context.Context, key, value string) error

	// Shared, Notify and Listen let console processes sharing one
	// database tell each other about changes and live events, and
	// Replicas counts those listening (see notify.go): PostgreSQL
	// LISTEN/NOTIFY; SQLite serves one process.
	Shared() bool
	Notify(ctx context.Context, channel string, payloads []string) error
	Listen(ctx context.Context, channels []string, ready func(), fn func(channel, payload string)) error
	Replicas(ctx context.Context) (int, error)

	CreateSession(ctx context.Context, s *Session) error
	Session(ctx context.Context, id string) (*Session, error)
	TouchSession(ctx context.Context, id string, t time.Time) error
	DeleteSession(ctx context.Context, id string) error
	DeleteUserSessions(ctx context.Context, userID string) error
	UserSessions(ctx context.Context, userID string) ([]Session, error)
	SetSessionReauth(ctx context.Context, id string, t time.Time) error
	DeleteOtherSessions(ctx context.Context, userID, keep string) error

	// Credentials: targeted updates (see mfa.go and password.go).
	SetPasswordHash(ctx context.Context, userID, hash string) error
	SetTOTPPending(ctx context.Context, userID, secret string) error
	TOTPPending(ctx context.Context, userID string) (string, error)
	ConfirmTOTP(ctx context.Context, userID, pending string, step int64, recoveryHashes []string) error
	DisableTOTP(ctx context.Context, userID string) error
	UseTOTPStep(ctx context.Context, userID string, step int64) (bool, error)
	UseRecoveryCode(ctx context.Context, userID, hash string) (bool, error)
	ReplaceTOTPSecret(ctx context.Context, userID, old, secret string) (bool, error)
}

var _ Store = (*DB)(nil)

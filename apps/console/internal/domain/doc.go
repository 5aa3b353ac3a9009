// Package domain owns every operation of the console: users, devices,
// policies, resources, gateways, groups, API keys, settings, alerts and
// the audit log. Each operation takes (ctx, actor, input) and returns
// domain values and one error vocabulary (see errors.go); it checks its
// input, writes the store and appends its audit record, once, so that
// the REST API, the pages and the control plane cannot disagree about
// what an action did or how it is logged.
//
// The transports in package server only decode a request, call one
// operation and encode its result; they never import the store.
//
// Where things go: an operation on one kind of thing lives in the file
// named after it (users.go, devices.go, policies.go …); its input and
// output types sit beside it. Nothing here knows about HTTP.
//
// # Policies
//
// policies.go saves, deletes and rolls back policies and reads their
// versions and diffs (policydiff.go); policycheck.go validates a draft on
// its own and the whole enabled set with a change in place, which every
// save, rollback and delete passes first, one change at a time (a
// Service holds a lock for it, so two changes in one process cannot
// each pass against the set the other changes). simulate.go replays
// recorded decisions against a draft; policystart.go and templates.go
// are where a new policy starts. A refused change is an
// *InvalidPolicyError carrying the validation.
//
// # Resources and groups
//
// resources.go checks that a gateway can serve a resource before it is
// stored; localresources.go reads what gateways serve from their own
// configuration. groups.go keeps groups and their members (users whose
// groups list names them); attachments.go derives who is attached to a
// USB device or serial port from the audit log, caching what it read.
// fields.go holds the limits of free text (names, descriptions, labels,
// postures).
//
// # Users and credentials
//
// Users are made by CreateUser only (the API, the users page and the
// console binary's commands, as System) and changed by UpdateUser and
// ChangeRole, each a compare-and-swap on the user's row version retried
// on a concurrent change (users.go, userrole.go). Passwords are argon2id
// hashes (password.go). Login (sessions.go) checks a password and a
// second factor, slows down one account from one source after failures
// (Options.Backoff*), answers unknown, disabled and backed-off accounts
// like a wrong password after the same argon2 work, and never rewrites
// the user row. The second factor (mfa.go) is TOTP plus recovery codes,
// each accepted code used up in the store; its secrets are sealed with
// Options.SecretKey (sealedsecret.go, secretkey.go). API keys
// (apikeys.go) act for their owner and never above her role
// (Options.Covers). Sessions and keys are random tokens kept as hashes
// (tokens.go); the transport carries them in cookies and headers.
//
// # Single sign-on
//
// identityproviders.go keeps a tenant's OpenID Connect providers (its
// admins' to change, each change audited without the secret; the client
// secret is sealed like a TOTP secret and never returned). oidc.go is
// the sign-in: OIDCBegin makes the provider's URL and the state the
// browser keeps (SealOIDCState), OIDCFinish exchanges the code with its
// PKCE verifier, verifies the ID token with go-oidc (issuer, audience,
// expiry, signature, and here the nonce and an issue time not in the
// future), requires email_verified unless the provider trusts emails,
// finds the user by email or makes one (ProvisionJIT), refuses a
// disabled one and opens the session through the same openSession as
// Login, recording "login" with the method and provider, or
// "login.failed" with the reason. Discovery is cached per provider for
// an hour and dropped on a failure or a change. SettingSSORequired
// refuses password sign-in (ErrSSORequired) to all but admins.
//
// # The audit log, alerts and insight
//
// The reads of what the console has seen: the audit log (auditlog.go:
// list, export, verify; auditfilter.go parses a filter from query
// parameters, refusing with an InvalidError that names the parameter)
// and its signed checkpoints (checkpoints.go: what to sign; when is the
// caller's loop); alerts and their state (alerts.go); users' risk and
// the detectors' hits (analytics.go); the dashboard's numbers
// (summary.go, cached for a second); id → name resolution for pages
// (names.go, cached for 30 seconds). Both caches are safe for
// concurrent use. Replicas of the console over one database reach each
// other only through replicas.go.
//
// # Devices, gateways and the control plane
//
//   - devices.go: reading, changing, renewing and deleting devices, and
//     who may see which (SeesAllDevices); enrolment.go: enrolling one
//     (by an admin or operator, or a user for herself within
//     devices.quota), key generation, address allocation and the
//     device's wg-quick file; wgquick.go: that file's typed values and
//     the parsers every WireGuard value passes.
//   - gateways.go: creating (one operation for the API, the pages and
//     the console binary), revoking, registering and authenticating
//     gateways, and their status reports; bundle.go: the configuration
//     a gateway pulls.
//   - gatewayevents.go: what a gateway may report and how its events are
//     stamped (kinds, effects, clock skew, alerts); bundlemembers.go:
//     the check that a subject or device is in the gateway's bundle, and
//     what is remembered of it per configuration version. A gateway is
//     untrusted input: every check there refuses the one event or report
//     at fault, never a whole batch.
//   - settings.go: every setting's key, check and reader;
//     wgsettings.go: the WireGuard settings enrolment reads;
//     ratelimit.go: the REST API's rate limits a tenant sets, which the
//     transport counts against.
//
// # Tenants
//
//   - platform.go: the Platform, one Service per tenant over the tenant's
//     own store (a Service never reaches another tenant's rows), and the
//     platform administrators' operations: create, change, suspend and
//     delete tenants, with their usage. The platform administrators are
//     the default tenant's admins; what they do is recorded in the
//     default tenant's audit log and in the tenant's own.
//   - quotas.go: a tenant's quotas of devices, gateways and policies,
//     checked and created under one lock, and of events per day, which
//     refuses a gateway's batch whole so that the gateway keeps it.
//   - platform_support.go: support access, which a tenant's admins grant
//     the platform's administrators for 15 minutes to a week with the
//     auditor or viewer role; it only reads, and its grant, revocation
//     and each administrator's first visit are in both audit logs.
//     platform_export.go: a tenant's configuration, without secrets.
//   - tenantcredential.go: the tenant a credential names before its
//     secret ("acme:gk_…"), which routes it and proves nothing.
//
// # The console's own security policies
//
// Per tenant, as settings with a check each: IP allowlists for the
// console and the API, per role where an entry names one, guarded
// against a change that would lock its admin out (allowlist.go);
// session policies per role: timeouts, concurrent sessions, a second
// factor, and ReauthWindow for the sensitive changes (sessionpolicy.go);
// API key scopes narrower than a role (apiscope.go) and the flag on
// keys about to expire (apikeys.go).
package domain

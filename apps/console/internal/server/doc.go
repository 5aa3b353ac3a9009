// Package server is the Gonaut console over a domain.Store: the web pages
// (templ components from package ui, htmx 4), the REST API under
// /api/v1/, live updates (Server-Sent Events at /api/v1/stream and /ui/live,
// a WebSocket at /ws) and the gateways' control plane under /cp/v1/ (the
// protocol of package ztna/controlplane). A *Server is an http.Handler.
// Every operation is package domain's; this package decodes a request,
// calls the domain and encodes its answer, and never reaches the store.
//
// # Files
//
// A file's name says its transport, then its thing:
//
//   - api_<thing>.go: the REST API's handlers for one thing (api_users.go,
//     api_devices.go, api_policies.go, ...), its request and answer types
//     and its routes; api_account.go is /api/v1/me, api_openapi.go the
//     description, api_encoding.go the shared JSON, list and QR
//     plumbing, api_problems.go how a domain error becomes an answer.
//   - page_<thing>.go: the pages (templ components of package ui) for one
//     thing, with their forms and routes; page_render.go is what they
//     share, page_flash.go the one-time messages of their redirects,
//     page_static.go the static files and the health check.
//   - cp.go, cp_events.go: the gateways' control plane.
//   - live_hub.go (publish and subscribe), live_stream.go (SSE and
//     WebSocket), live_perm.go (who sees which event), live_relay.go
//     (between replicas).
//   - auth_session.go (cookies, CSRF, login), auth_principal.go (who a
//     request is, as the domain sees her), auth_throttle.go,
//     auth_clientip.go (the client source behind trusted proxies),
//     auth_support.go (reading a tenant under its support grant),
//     auth_allowlist.go (IP allowlists), auth_reauth.go (session
//     policies and re-authentication), auth_apiscope.go (API key
//     scopes).
//   - api_tenants.go and page_platform.go: the platform's tenants and a
//     tenant's support grant.
//   - routes.go: the permissions, the route type, the middleware every
//     route passes through and the table of all routes; routes_limits.go
//     the bounds on policy drafts, routes_ratelimit.go the REST API's
//     rate limits.
//   - server.go (Options, New, Close), server_admin.go (what the binary
//     does without a request), server_checkpoints.go.
//
// A new route goes in the file of its transport and thing, in that
// file's <transport><Thing>Routes function (a new file's function is
// added to routes.go's table), with its permission.
//
// # Access
//
// Every route is declared once, beside its handler, with a permission:
// public, gateway (a gateway credential), or
// one of read, self, audit, policy, ops, admin, platform, each allowing a
// fixed set of roles (permRoles; platform also needs the default
// tenant). A route without a permission does not register
// (New panics), and a test calls every route as every role against the
// table.
//
// People log in with an email, an argon2id-hashed password and, once they
// enrolled an authenticator, a TOTP code or one of ten one-time recovery
// codes. Logins are throttled per client source, and failures slow down
// one account from one source only: after Options.BackoffAfter failures
// in a row that source waits Options.BackoffBase, doubling up to
// Options.BackoffMax, before its next attempt is checked, while the
// account's owner logs in from elsewhere as usual. Unknown, disabled and
// backed-off accounts get the answer of a wrong password after the same
// argon2 work. The client source is the TCP peer, or, when the peer is
// one of the trusted_proxies setting's prefixes, the rightmost
// X-Forwarded-For hop that is not a trusted proxy (an IPv6 client
// counts by its /64). Login never rewrites the user row, and every
// read-modify-write of a user is compare-and-swap on its row version
// (store.ErrStale, 409, after a few retries), so a concurrent disable,
// demotion or reset always holds.
// Each code works once: the TOTP time step and the recovery code are used
// up in the store by a conditional update, so a replay or concurrent logins
// with one code give one session (package domain, mfa.go). Replacing or turning off the
// authenticator needs the password and a current code in the request; a
// signed-in user changes their own password by giving the current one,
// which ends their other sessions. TOTP secrets are stored sealed with
// Options.SecretKey (domain's sealedsecret.go; domain.LoadOrCreateSecretKey
// keeps it in a file). What a credential proves, and what a sign-in or a
// failed one does, are the domain's operations (domain.Service.Login,
// Session, APIKeyOf); this package carries the cookies, the CSRF tokens
// and the per-source login throttle (auth_session.go, auth_throttle.go).
// A login always starts a new session (the old cookie is dropped), kept
// in an HttpOnly, SameSite=Strict cookie whose value is stored only as a
// SHA-256; sessions end after Options.SessionIdle without a request and
// Options.SessionMax after login. Every unsafe request made with a session
// needs the session's CSRF token, in a form field "csrf" or the
// X-CSRF-Token header (the pages send both); the token is derived from the
// session cookie and the store keeps only its hash. The login form uses a
// double-submit cookie. Cookies are Secure when Options.SecureCookies is
// set. Automation uses API keys ("Authorization: Bearer
// gk_<id>.<secret>"), each scoped to one role, stored hashed, revocable,
// with their last use recorded; a key made through the API belongs to its
// maker, acts only while they are enabled and hold every permission of
// its role, and expires (domain.DefaultAPIKeyDays unless asked otherwise).
//
// Single sign-on (auth_oidc.go) is OpenID Connect, the domain's
// (domain/oidc.go): GET /login/oidc/{id} (the organisation parameter
// names the tenant) redirects to the provider with PKCE, a state and a
// nonce, which the browser keeps until GET /login/oidc/callback in a
// cookie sealed with Options.SecretKey, HttpOnly and SameSite=Lax: the
// provider's redirect back is a cross-site navigation, which carries no
// Strict cookie. The cookie is cleared by the callback whatever its
// outcome. Both kinds of sign-in pass signIn: the console allowlist,
// the rotation of the browser's old session and the new cookie. The
// login page shows the buttons of the organisation it is for; the
// identity providers page and /api/v1/identity-providers are its
// admins'. The callback counts against the per-source login throttle.
//
// A form's redirect carries its one-line message in a one-time cookie
// signed with a key derived from the client's credential (page_flash.go), never
// in the URL, so no link can put its own text on a console page.
//
// # Tenants
//
// One console serves many tenants (organisations), each with a store of
// its own (see domain.Platform). A request reaches its tenant through
// its principal: a credential of a tenant other than the default names
// it before a colon ("acme:gk_…", the session cookie alike, a gateway's
// credential too), and the principal carries that tenant's
// domain.Service, through which every handler works; there is no other
// way to a store from here. Sign-in names the organisation on the
// login form once a second tenant exists. Live events, configuration
// versions, audit checkpoints and every rate limit's bucket are kept
// per tenant (principal.stateKey). The platform's administrators, the
// admins of the default tenant, use the permission "platform"
// (/api/v1/tenants, /platform); they read a tenant's data only under
// its support grant, with the X-Gonaut-Support header or the support
// cookie the platform page sets, and then only with GET and HEAD, as
// "platform:<id>" in the tenant's log. TestTenantIsolationTable calls
// every route with the caller's tenant, another tenant's identifiers
// and as the platform, on both stores; a route whose parameters it
// cannot name fails it. TestGatewayStaysInItsTenant and
// TestLiveEventsStayInTheirTenant cover the control plane and the
// streams.
//
// # Security policies
//
// Each tenant bounds its own console (settings, checked in package
// domain): console.allowlist holds requests with a session and sign-in
// to client addresses, api.allowlist those with an API key, each per
// role where an entry names one, refused with 403 and an
// access.address_refused entry; sessions.<role> sets a role's timeouts,
// concurrent sessions and a required second factor (without it a
// session reaches only its own account); routes marked sensitive (roles,
// API keys, settings, support access, tenants) want a session's
// password again five minutes after its sign-in (403 reauth_required,
// POST /api/v1/me/reauth); an API key's scope ("read", "devices",
// "read:devices") narrows its role and keeps it off the pages. Every
// refusal names itself in X-Gonaut-Refusal.
//
// # REST API
//
// Lists take limit (default 50, at most 1000), cursor (the next_cursor of
// the previous page) and q (a case-insensitive search), and answer
// {"items": [...], "next_cursor": "..."}. Every error is
// {"status", "code", "message"}. The OpenAPI 3 document at
// /api/v1/openapi.json is built from a description table that a test
// compares with the route table in both directions.
//
// # Rate limits
//
// Every REST API route (not the pages, not the public routes, not the
// gateways' control plane) is rate-limited, after authentication, per
// API key, per user (a signed-in user, or the owner of the key: her
// sessions and keys share one budget) and per client address (the
// client source, as for logins), each within the tenant. The limits are
// the tenant's settings [SettingAPIRateKey], [SettingAPIRateUser] and
// [SettingAPIRateAddress], "requests/period" such as "600/1m" or "off"
// (domain.ParseRateLimit); unset they are 600, 600 and 1200 a minute. A
// tenant's limits and the trusted_proxies setting are cached for
// limitsTTL (5 seconds), so a change applies within that on every
// replica and the store is not read per request.
//
// Each limit is a token bucket of its requests, refilled over its
// period. A request spends from every bucket that applies or, when one
// is empty, from none, and is answered 429 with error code
// "rate_limited", a message naming the limit ("per API key", "per
// user", "per address") and Retry-After, the seconds until it fits.
// Every limited answer, refused or not, carries the most restrictive
// bucket in the fields of draft-ietf-httpapi-ratelimit-headers:
// RateLimit-Policy `"key";q=600;w=60` (q requests per w seconds) and
// RateLimit `"key";r=599;t=1` (r left, t seconds until the bucket is
// full again). The policies are "key", "user" and "address". A bucket
// that is full again is forgotten within seconds, and the limiter keeps
// at most 100,000 at once, so an attacker rotating addresses costs
// memory only for the addresses whose buckets have not refilled.
//
// Counters are per replica: nothing is written to the store per
// request. Over PostgreSQL each replica counts the live ones (their
// listening connections, domain.Service.Replicas) every 15 seconds and
// enforces the configured limit divided by that number, at least one
// request: a client spread evenly over the replicas gets the configured
// rate in all, one pinned to a replica that replica's share. The fields
// describe the bucket of the replica that answered, so q is the divided
// quota. A replica that starts or stops is counted within 15 seconds.
//
// # Derived views
//
// Some pages show what gateways do not report directly. A user's risk
// (domain/analytics.go, answered by api_analytics.go) is computed from the
// stored alerts with the scoring of package analytics; the dashboard's
// numbers (domain/summary.go) from the last half hour of the audit log;
// who is attached to a USB device or serial port (domain/attachments.go)
// is replayed from the decisions and flow events in the audit log; a
// group's members (domain/groups.go) are the users whose groups
// name it. Each bounds how much of the audit log it reads.
//
// # Control plane
//
// A gateway created in the console gets a one-time registration token
// (24 hours). Registration trades it for a credential. GET /cp/v1/bundle
// long-polls the configuration version: every change that gateways must
// see bumps it in the store, in the same transaction, and the server
// wakes waiting gateways at once; changes made through another console
// replica on the same PostgreSQL database arrive by LISTEN/NOTIFY as
// they commit (and within Options.ConfigPoll in any case). POST /cp/v1/events
// stores a batch in the audit log, each event once (its id is namespaced
// by the gateway), and answers only after the commit. A gateway is
// trusted for what it enforced only (domain/gatewayevents.go; the
// handlers are cp.go and cp_events.go): each event must be of
// a kind gateways emit and about users and devices of its bundle, is
// stamped with the sending gateway, and is stored at the console's time,
// flagged, when its own is outside the gateways.clock_skew window; an
// event failing a check is refused alone and named in the answer. A
// heartbeat's risk must name bundle users only.
//
// # Audit log
//
// The audit log's list, page and export (api_audit.go, page_audit.go)
// parse their filters with domain.ParseAuditFilter and read through
// domain.ListAudit and ExportAudit; the checkpointer's loop
// (server_checkpoints.go) wakes on appends and on a timer and signs through
// domain.CheckpointAudit.
//
// # Live events
//
// Each live event carries the permission of the route that serves the
// same data (live_perm.go): a subscriber sees only what their role may
// read through the API, so decisions and other audit entries reach only
// the roles of GET /api/v1/audit.
//
// # Replicas
//
// Over PostgreSQL, any number of Servers (processes) may share one
// database. Live events published by one are relayed to the others
// through the domain's replica operations (domain/replicas.go, NOTIFY
// underneath) and reach their SSE and WebSocket subscribers (see
// live_relay.go); like every live stream they are best effort, and the audit
// log keeps everything. A SQLite store serves one process.
//
// # Concurrency
//
// A Server is safe for concurrent use. Close ends live streams and long
// polls and stops the configuration watcher; it does not close the store.
package server

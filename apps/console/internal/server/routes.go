package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// A perm names who may use a route. Every route has exactly one; the
// authorisation test walks every route with every role against this table.
type perm string

const (
	permPublic  perm = "public"  // no login: login page, static files, health
	permGateway perm = "gateway" // a gateway credential (control plane)
	permRead    perm = "read"    // every role
	permAudit   perm = "audit"   // admin, auditor
	permPolicy  perm = "policy"  // admin, policy editor
	permOps     perm = "ops"     // admin, operator
	permAdmin   perm = "admin"   // admin only
	permSelf    perm = "self"    // any logged-in user, on their own account
	// permPlatform is the platform's administration (tenants): the
	// admins of the root's own tenant only (see domain.Platform).
	permPlatform perm = "platform"
	// permNobody is held by no role: what a live event without a source
	// route gets, so that a forgotten type is shown to no one.
	permNobody perm = "nobody"
)

// permRoles is the authorisation table.
var permRoles = map[perm][]domain.Role{
	permRead:   domain.Roles,
	permSelf:   domain.Roles,
	permAudit:  {domain.RoleAdmin, domain.RoleAuditor},
	permPolicy: {domain.RoleAdmin, domain.RolePolicyEditor},
	permOps:    {domain.RoleAdmin, domain.RoleOperator},
	permAdmin:  {domain.RoleAdmin},
	// permPlatform also needs the root's own tenant (see handle).
	permPlatform: {domain.RoleAdmin},
}

// allowed reports whether role may use a route with perm p.
func allowed(p perm, role domain.Role) bool { return slices.Contains(permRoles[p], role) }

// covers reports whether holder has every permission of role: an API
// key with role acts for a holder only while this is true.
func covers(holder, role domain.Role) bool {
	for p := range permRoles {
		if allowed(p, role) && !allowed(p, holder) {
			return false
		}
	}
	return true
}

// A route is one method and path of the console.
type route struct {
	method, path string
	perm         perm
	// page routes answer errors with HTML redirects to the login page;
	// API routes answer with the JSON error format.
	page bool
	// draft routes carry a policy draft: their body is bounded by
	// Options.PolicyDraftLimit before anything reads it. compile routes
	// compile whatever they are sent and are rate-limited per principal
	// (see routes_limits.go).
	draft, compile bool
	// sensitive routes make the changes that want a fresh password:
	// a session signed in or re-authenticated within
	// domain.ReauthWindow (see auth_reauth.go). API keys are not asked.
	sensitive bool
	h         func(w http.ResponseWriter, r *http.Request, p *principal)
}

func (s *Server) handle(rt route) {
	if rt.perm == "" {
		panic("console: route " + rt.method + " " + rt.path + " has no permission rule")
	}
	if rt.perm != permPublic && rt.perm != permGateway && permRoles[rt.perm] == nil {
		panic("console: route " + rt.method + " " + rt.path + " has an unknown permission " + string(rt.perm))
	}
	pattern := rt.path
	if rt.method != "" {
		pattern = rt.method + " " + rt.path
	}
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if rt.draft && !s.limitDraft(w, r) {
			return
		}
		var p *principal
		switch rt.perm {
		case permPublic:
			p, _ = s.authenticate(w, r)
		case permGateway:
			var ok bool
			if p, ok = s.authGateway(w, r); !ok {
				return
			}
		default:
			var ok bool
			p, ok = s.authenticate(w, r)
			if !ok || p == nil {
				if rt.page {
					http.Redirect(w, r, "/login?next="+urlEscape(r.URL.RequestURI()), http.StatusSeeOther)
					return
				}
				writeError(w, http.StatusUnauthorized, "unauthorized", "log in or send an API key")
				return
			}
			if t := supportTenant(r); t != "" && rt.perm != permPlatform && rt.perm != permSelf {
				if p, ok = s.supportPrincipal(w, r, rt, p, t); !ok {
					return
				}
			}
			if !s.allowedFrom(w, r, rt, p) {
				return
			}
			if !s.scopeAllows(w, r, rt, p) || !s.sessionPolicyAllows(w, r, rt, p) {
				return
			}
			if !allowed(rt.perm, p.role) || (rt.perm == permPlatform && p.tenant != s.plat.Default().TenantID()) {
				if rt.page {
					s.pageForbidden(w, r, p)
					return
				}
				writeError(w, http.StatusForbidden, "forbidden", "role %s may not %s %s", p.role, r.Method, rt.path)
				return
			}
			if p.session != nil && !safeMethod(r.Method) && !s.checkCSRF(r, p.session) {
				w.Header().Set("X-Gonaut-Refusal", "csrf")
				if rt.page {
					http.Error(w, "missing or wrong CSRF token; reload the page", http.StatusForbidden)
					return
				}
				writeError(w, http.StatusForbidden, "csrf", "missing or wrong CSRF token (send X-CSRF-Token)")
				return
			}
			if rt.sensitive && !s.freshEnough(w, r, rt, p) {
				return
			}
		}
		if rt.compile && !s.allowCompile(w, r, p) {
			return
		}
		if !rt.page && rt.perm != permGateway && rt.perm != permPublic && !s.limitAPI(w, r, p) {
			return
		}
		r = withPrincipal(r, p)
		if rt.page && r.Method == http.MethodGet {
			r = s.takeFlash(w, r, p)
		}
		rt.h(w, r, p)
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func urlEscape(s string) string {
	return strings.NewReplacer("%", "%25", "&", "%26", "?", "%3F", "#", "%23", " ", "%20", "+", "%2B").Replace(s)
}

// pageRoute is a route of a page: its refusals are HTML (a redirect to
// the login page, the forbidden page) rather than JSON.
func pageRoute(method, path string, p perm, h func(http.ResponseWriter, *http.Request, *principal)) route {
	return route{method: method, path: path, perm: p, page: true, h: h}
}

// routes is every route of the console: each file of a transport
// declares the routes of the handlers it holds, and this is their table.
func (s *Server) routes() []route {
	return slices.Concat(
		// The REST API (api_*.go) and its live streams (live_stream.go).
		s.apiOpenAPIRoutes(),
		s.apiAccountRoutes(),
		s.apiSelfServiceRoutes(),
		s.apiUserRoutes(),
		s.apiGroupRoutes(),
		s.apiDeviceRoutes(),
		s.apiResourceRoutes(),
		s.apiAttachmentRoutes(),
		s.apiPolicyRoutes(),
		s.apiGatewayRoutes(),
		s.apiSettingRoutes(),
		s.apiAlertRoutes(),
		s.apiAnalyticsRoutes(),
		s.apiAuditRoutes(),
		s.apiKeyRoutes(),
		s.apiIdentityProviderRoutes(),
		s.apiTenantRoutes(),
		s.liveRoutes(),
		s.reauthRoutes(),
		// The gateways' control plane (cp*.go).
		s.cpRoutes(),
		s.cpEventRoutes(),
		// The pages (page_*.go).
		s.pageStaticRoutes(),
		s.pageLoginRoutes(),
		s.oidcRoutes(),
		s.pageDashboardRoutes(),
		s.pageAccountRoutes(),
		s.pageAPIKeyRoutes(),
		s.pageIdentityProviderRoutes(),
		s.pagePolicyRoutes(),
		s.pageResourceRoutes(),
		s.pageGatewayRoutes(),
		s.pageSettingRoutes(),
		s.pageConsoleSettingRoutes(),
		s.pageDeviceRoutes(),
		s.pageSelfServiceRoutes(),
		s.pageUserRoutes(),
		s.pageAlertRoutes(),
		s.pageAuditRoutes(),
		s.pageAnalyticsRoutes(),
		s.pageGroupRoutes(),
		s.pageAttachmentRoutes(),
		s.pagePlatformRoutes(),
	)
}

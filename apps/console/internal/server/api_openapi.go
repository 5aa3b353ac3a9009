package server

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gonaut/gonaut/policy"
)

// An apiDoc describes one REST operation for the OpenAPI document. It is
// kept apart from the route table on purpose: the test that every route
// is described compares the two, so a route added without documentation
// (or documentation of a route that is gone) fails.
type apiDoc struct {
	method, path, summary string
	params                []string // query parameters
	body                  any      // request body example type, nil: none
	resp                  any      // 2xx answer type, nil: 204
	status                int      // default 200
}

var listParams = []string{"cursor", "limit", "q"}

var apiDocs = []apiDoc{
	{"GET", "/api/v1/openapi.json", "This OpenAPI document", nil, nil, map[string]any{}, 0},
	{"GET", "/api/v1/me", "The caller: user or API key, role, CSRF token for cookie sessions", nil, nil, meAnswer{}, 0},
	{"POST", "/api/v1/me/totp", "Start TOTP enrolment: a new secret, otpauth URL and QR code; the authenticator in use stays until the new one is confirmed, and replacing one needs the password and a current code", nil, reauthRequest{}, totpStart{}, 0},
	{"POST", "/api/v1/me/totp/confirm", "Confirm TOTP with a code; returns ten one-time recovery codes", nil, codeRequest{}, recoveryAnswer{}, 0},
	{"POST", "/api/v1/me/totp/disable", "Turn TOTP off; needs the password and a current TOTP or recovery code", nil, reauthRequest{}, nil, 204},
	{"POST", "/api/v1/me/reauth", "Enter your password (and code) again: a session may then make sensitive changes (roles, API keys, settings, support access, tenants) for five minutes", nil, reauthRequest{}, nil, 204},
	{"POST", "/api/v1/me/password", "Change your own password, giving the current one; your other sessions end", nil, passwordChange{}, nil, 204},
	{"POST", "/api/v1/me/devices", "Enrol one of your own devices (any role)", nil, selfEnrol{}, Enrolment{}, 201},
	{"POST", "/api/v1/me/devices/{id}/renew", "Renew your device's session; needs a session opened with MFA", nil, nil, Device{}, 0},
	{"GET", "/api/v1/users", "List users", listParams, nil, page[User]{}, 0},
	{"POST", "/api/v1/users", "Create a user", nil, userRequest{}, User{}, 201},
	{"GET", "/api/v1/users/{id}", "Get a user", nil, nil, User{}, 0},
	{"PATCH", "/api/v1/users/{id}", "Change a user: name, role, groups, disable, password, unlock (end the sign-in backoff of every source)", nil, userPatch{}, User{}, 0},
	{"GET", "/api/v1/groups", "List groups", nil, nil, page[Group]{}, 0},
	{"PUT", "/api/v1/groups/{name}", "Create or update a group", nil, groupRequest{}, Group{}, 0},
	{"DELETE", "/api/v1/groups/{name}", "Delete a group", nil, nil, nil, 204},
	{"GET", "/api/v1/groups/{name}", "Get a group with its members (also a name only users carry)", nil, nil, GroupDetail{}, 0},
	{"PUT", "/api/v1/groups/{name}/members/{user}", "Add a user (id or email) to a group", nil, nil, User{}, 0},
	{"DELETE", "/api/v1/groups/{name}/members/{user}", "Remove a user (id or email) from a group", nil, nil, User{}, 0},
	{"GET", "/api/v1/devices", "List devices, optionally of one owner", append([]string{"owner"}, listParams...), nil, page[Device]{}, 0},
	{"POST", "/api/v1/devices", "Enrol a device: generate a key pair or accept a public key; returns a wg-quick config and QR code", nil, enrolRequest{}, Enrolment{}, 201},
	{"GET", "/api/v1/devices/{id}", "Get a device", nil, nil, Device{}, 0},
	{"PATCH", "/api/v1/devices/{id}", "Change a device: disable, posture, renew session", nil, devicePatch{}, Device{}, 0},
	{"DELETE", "/api/v1/devices/{id}", "Delete a device; gateways drop its peer with the next bundle", nil, nil, nil, 204},
	{"GET", "/api/v1/resources", "List resources", listParams, nil, page[Resource]{}, 0},
	{"GET", "/api/v1/resources/{name}", "Get a resource", nil, nil, Resource{}, 0},
	{"GET", "/api/v1/attachments", "USB and serial resources with who is attached now, derived from reported decisions and flows", nil, nil, page[DeviceResource]{}, 0},
	{"PUT", "/api/v1/resources/{name}", "Create or replace a resource. tcp, udp and http need a DNS name as name and an upstream as address host:port, or address host with port (http defaults to 80); 400 with the offending field otherwise", nil, resourceRequest{}, Resource{}, 0},
	{"DELETE", "/api/v1/resources/{name}", "Delete a resource", nil, nil, nil, 204},
	{"GET", "/api/v1/policies", "List policies at their current versions", listParams, nil, page[Policy]{}, 0},
	{"GET", "/api/v1/policies/{name}", "Get a policy at its current version", nil, nil, Policy{}, 0},
	{"PUT", "/api/v1/policies/{name}", "Save a new version (must compile and pass its tests, and the enabled policies with it in place must compile as one set and pass every document's tests; 422 with the validation, naming document and test, otherwise)", nil, draft{}, PolicyVersion{}, 0},
	{"DELETE", "/api/v1/policies/{name}", "Stop enforcing a policy (its history stays); 422 when the remaining enabled policies would fail as a set", nil, nil, nil, 204},
	{"GET", "/api/v1/policies/{name}/versions", "Every saved version, newest first", nil, nil, page[PolicyVersion]{}, 0},
	{"GET", "/api/v1/policies/{name}/diff", "Line diff between two versions (default: previous and current)", []string{"from", "to"}, nil, PolicyDiff{}, 0},
	{"POST", "/api/v1/policies/{name}/rollback", "Save an earlier version as the next version, with the same checks as a save (422 otherwise)", nil, rollbackRequest{}, PolicyVersion{}, 0},
	{"POST", "/api/v1/policies/validate", "Parse, compile and test a draft: diagnostics at line:column and test results; once valid on its own, set is the check of the enabled policies with the draft in place (what a save checks)", nil, draft{}, Validation{}, 0},
	{"POST", "/api/v1/policies/simulate", "What-if: decide recorded requests with the draft and report what changes", nil, draft{}, Simulation{}, 0},
	{"GET", "/api/v1/templates", "The policy templates gallery", nil, nil, map[string]any{}, 0},
	{"GET", "/api/v1/gateways", "List gateways with status", nil, nil, page[Gateway]{}, 0},
	{"POST", "/api/v1/gateways", "Add a gateway; returns its one-time registration token", nil, gatewayRequest{}, gatewayCreated{}, 201},
	{"DELETE", "/api/v1/gateways/{id}", "Revoke a gateway's credential", nil, nil, nil, 204},
	{"GET", "/api/v1/alerts", "List alerts, newest first", append([]string{"state"}, listParams...), nil, page[Alert]{}, 0},
	{"POST", "/api/v1/alerts/{id}/state", "Acknowledge or resolve an alert", nil, alertState{}, nil, 204},
	{"GET", "/api/v1/alerts/{id}", "Get an alert with its evidence", nil, nil, Alert{}, 0},
	{"GET", "/api/v1/analytics/risk", "Risk score per user: the highest score a live gateway reports, else the console's own from the alerts of the last day; with allowed and denied decisions of the last hour; riskiest first", []string{"q", "limit"}, nil, page[UserRisk]{}, 0},
	{"GET", "/api/v1/analytics/detectors", "Alerts per detector and hour over the last day", nil, nil, DetectorHits{}, 0},
	{"GET", "/api/v1/analytics/summary", "Decisions per minute, allowed and denied, top resources, gateway health", nil, nil, Summary{}, 0},
	{"GET", "/api/v1/audit", "Search the audit log, newest first; cursor is the last seq", []string{"actor", "action", "resource", "effect", "gateway", "since", "until", "q", "cursor", "limit"}, nil, page[AuditEvent]{}, 0},
	{"GET", "/api/v1/audit/export", "Export matching entries as CSV or JSON lines", []string{"format", "actor", "action", "resource", "effect", "gateway", "since", "until", "q"}, nil, "", 0},
	{"GET", "/api/v1/audit/verify", "Verify the audit log's hash chain", nil, nil, VerifyReport{}, 0},
	{"GET", "/api/v1/tenants", "The platform's tenants with their quotas and usage (the platform's administrators: admins of the root tenant)", nil, nil, page[Tenant]{}, 0},
	{"POST", "/api/v1/tenants", "Create a tenant: id (2 to 30 lower-case letters and digits), name, quotas", nil, tenantRequest{}, Tenant{}, 201},
	{"GET", "/api/v1/tenants/{id}", "Get a tenant with its usage", nil, nil, Tenant{}, 0},
	{"PATCH", "/api/v1/tenants/{id}", "Rename, suspend or resume a tenant, or set its quotas", nil, tenantPatch{}, Tenant{}, 0},
	{"DELETE", "/api/v1/tenants/{id}", "Delete a suspended tenant and everything it holds", nil, nil, nil, 204},
	{"GET", "/api/v1/tenants/{id}/export", "A tenant's configuration as JSON, without secrets; recorded in both audit logs", nil, nil, TenantExport{}, 0},
	{"POST", "/api/v1/tenants/{id}/support", "Check that the tenant's support grant is in force for you; then send X-Gonaut-Support: <id> to read its data with the granted role", nil, nil, SupportGrant{}, 0},
	{"GET", "/api/v1/support", "The support access your organisation has granted the platform's administrators (404: none)", nil, nil, SupportGrant{}, 0},
	{"PUT", "/api/v1/support", "Grant the platform's administrators read access to your organisation: role auditor or viewer, duration 15m to 168h", nil, supportRequest{}, SupportGrant{}, 0},
	{"DELETE", "/api/v1/support", "End the support access at once", nil, nil, nil, 204},
	{"GET", "/api/v1/settings", "The console-wide settings admins may change (trusted_proxies, devices.quota, gateways.clock_skew), with what each means", nil, nil, page[consoleSetting]{}, 0},
	{"PUT", "/api/v1/settings/{key}", "Change one setting; a value its check refuses is a 400 and changes nothing; empty restores the default", nil, settingValue{}, consoleSetting{}, 0},
	{"GET", "/api/v1/settings/wireguard", "The WireGuard settings enrolled devices get (endpoint, allowed_ips, dns); empty: the gateway's reported value", nil, nil, wgSettings{}, 0},
	{"PUT", "/api/v1/settings/wireguard", "Set the WireGuard settings; every value is validated and nothing is stored unless all are valid; empty: use the gateway's report", nil, wgSettings{}, wgSettings{}, 0},
	{"GET", "/api/v1/apikeys", "List API keys", nil, nil, page[APIKey]{}, 0},
	{"POST", "/api/v1/apikeys", "Create an API key owned by the caller, for a role the caller holds, expiring after expires_in_days (default 90, at most 365); the secret is shown once", nil, keyRequest{}, keyCreated{}, 201},
	{"DELETE", "/api/v1/apikeys/{id}", "Revoke an API key", nil, nil, nil, 204},
	{"GET", "/api/v1/identity-providers", "List the organisation's OpenID Connect providers (the client secret is never shown)", nil, nil, page[IdentityProvider]{}, 0},
	{"POST", "/api/v1/identity-providers", "Add an OpenID Connect provider: name, issuer (https), client_id, client_secret (write-only), scopes (default openid email profile), trust_email, provisioning jit (with default_role) or invite", nil, identityProviderRequest{}, IdentityProvider{}, 201},
	{"GET", "/api/v1/identity-providers/{id}", "Get an OpenID Connect provider", nil, nil, IdentityProvider{}, 0},
	{"PATCH", "/api/v1/identity-providers/{id}", "Change an OpenID Connect provider's fields that are sent", nil, identityProviderRequest{}, IdentityProvider{}, 0},
	{"DELETE", "/api/v1/identity-providers/{id}", "Remove an OpenID Connect provider; its users stay", nil, nil, nil, 204},
	{"GET", "/api/v1/stream", "Live events as Server-Sent Events (decision, alert, gateway, config)", nil, nil, "", 0},
	{"GET", "/ws", "Live events as JSON messages over a WebSocket", nil, nil, "", 101},
}

var openapiOnce = sync.OnceValue(func() []byte {
	paths := map[string]map[string]any{}
	schemas := map[string]any{}
	schemas["Error"] = schemaOf(reflect.TypeOf(apiError{}), schemas)
	for _, d := range apiDocs {
		op := map[string]any{"summary": d.summary, "operationId": opID(d.method, d.path)}
		var params []any
		for _, seg := range strings.Split(d.path, "/") {
			if strings.HasPrefix(seg, "{") {
				params = append(params, map[string]any{"name": strings.Trim(seg, "{}"), "in": "path", "required": true, "schema": map[string]string{"type": "string"}})
			}
		}
		for _, q := range d.params {
			params = append(params, map[string]any{"name": q, "in": "query", "schema": map[string]string{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if d.body != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(d.body), schemas)}}}
		}
		status := d.status
		if status == 0 {
			status = 200
		}
		resp := map[string]any{"description": http.StatusText(status)}
		if d.resp != nil {
			if _, isText := d.resp.(string); isText {
				resp["content"] = map[string]any{"text/plain": map[string]any{"schema": map[string]string{"type": "string"}}}
			} else {
				resp["content"] = map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(d.resp), schemas)}}
			}
		}
		errResp := map[string]any{"description": "error", "content": map[string]any{"application/json": map[string]any{"schema": map[string]string{"$ref": "#/components/schemas/Error"}}}}
		op["responses"] = map[string]any{strconv.Itoa(status): resp, "default": errResp}
		if paths[d.path] == nil {
			paths[d.path] = map[string]any{}
		}
		paths[d.path][strings.ToLower(d.method)] = op
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "Gonaut console API", "version": "1"},
		"paths":   paths,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{
				"apiKey":  map[string]any{"type": "http", "scheme": "bearer", "description": "gk_<id>.<secret> from POST /api/v1/apikeys"},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": sessionCookie, "description": "browser session; unsafe methods also need X-CSRF-Token"},
			},
		},
		"security": []any{map[string]any{"apiKey": []any{}}, map[string]any{"session": []any{}}},
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return b
})

func opID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, seg := range strings.Split(strings.TrimPrefix(path, "/api/v1"), "/") {
		seg = strings.Trim(seg, "{}")
		for _, part := range strings.FieldsFunc(seg, func(r rune) bool { return r == '.' || r == '_' || r == '-' }) {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

var timeType = reflect.TypeOf(time.Time{})
var rawType = reflect.TypeOf(json.RawMessage{})
var effectType = reflect.TypeOf(policy.Allow)

// schemaOf derives a JSON schema from a Go type's json tags; named
// structs become components.
func schemaOf(t reflect.Type, comps map[string]any) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return map[string]string{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{}
	case t == effectType:
		return map[string]any{"type": "string", "enum": []string{"allow", "deny"}}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]string{"type": "string"}
	case reflect.Bool:
		return map[string]string{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]string{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]string{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), comps)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem(), comps)}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name := t.Name()
		if i := strings.IndexByte(name, '['); i >= 0 {
			name = "Page_" + strings.TrimSuffix(name[strings.LastIndexAny(name, ".[")+1:], "]")
		}
		if name != "" {
			if _, ok := comps[name]; ok {
				return map[string]string{"$ref": "#/components/schemas/" + name}
			}
			comps[name] = map[string]any{} // break cycles
		}
		props := map[string]any{}
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			fname, _, _ := strings.Cut(tag, ",")
			if fname == "" {
				fname = f.Name
			}
			props[fname] = schemaOf(f.Type, comps)
		}
		s := map[string]any{"type": "object", "properties": props}
		if name == "" {
			return s
		}
		comps[name] = s
		return map[string]string{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// apiOpenAPIRoutes serves the API's own description.
func (s *Server) apiOpenAPIRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/openapi.json", perm: permPublic, h: s.apiOpenAPI},
	}
}

func (s *Server) apiOpenAPI(w http.ResponseWriter, r *http.Request, p *principal) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openapiOnce())
}

package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// callFrom is tenantCall from the client address remote ("ip:port"),
// with X-Forwarded-For when xff is set.
func callFrom(e *env, remote, xff, bearer, method, path string, body any) (int, string) {
	data, _ := json.Marshal(body)
	req := httptest.NewRequest(method, path, strings.NewReader(string(data)))
	req.RemoteAddr = remote
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

// TestAllowlists sets a tenant's API and console allowlists over HTTP
// and uses the console from inside and outside them: outside gets 403
// and an audit entry, per role where the list says so, behind a trusted
// proxy by the forwarded address and never by a forged one; a list that
// would shut out the admin setting it is refused; the default tenant is
// untouched by acme's lists.
func TestAllowlists(t *testing.T) {
	e := newEnv(t, nil)
	platformKey := e.keys[domain.RoleAdmin]
	if code, body := tenantCall(e, platformKey, "", "POST", "/api/v1/tenants", tenantRequest{ID: "acme", Name: "Acme"}); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	acme := seedTenant(t, e, "acme")
	svc, _ := e.srv.plat.Service(bg, "acme")
	_, viewer, _ := svc.CreateToolKey(bg, "viewer", domain.RoleViewer)
	const inside, outside = "192.0.2.1:4000", "198.51.100.7:4000"
	set := func(from, key, value string) (int, string) {
		return callFrom(e, from, "", acme.admin, "PUT", "/api/v1/settings/"+key, settingValue{Value: value})
	}

	// The guard: a list without the admin's own address is refused and
	// nothing changes.
	if code, body := set(inside, domain.SettingAPIAllowlist, "203.0.113.0/24"); code != http.StatusConflict || !strings.Contains(body, "lockout") {
		t.Fatalf("a list locking out its setter: %d %s", code, body)
	}
	if code, body := set(inside, domain.SettingAPIAllowlist, "admn:192.0.2.1"); code != 400 {
		t.Fatalf("a list naming no role: %d %s", code, body)
	}
	if code, _ := callFrom(e, outside, "", acme.admin, "GET", "/api/v1/users", nil); code != 200 {
		t.Fatalf("refused lists changed something: %d", code)
	}

	if code, body := set(inside, domain.SettingAPIAllowlist, "192.0.2.0/24"); code != 200 {
		t.Fatalf("set: %d %s", code, body)
	}
	if code, _ := callFrom(e, inside, "", acme.admin, "GET", "/api/v1/users", nil); code != 200 {
		t.Errorf("from inside: %d", code)
	}
	code, body := callFrom(e, outside, "", acme.admin, "GET", "/api/v1/users", nil)
	if code != http.StatusForbidden || !strings.Contains(body, "address_refused") || strings.Contains(body, acme.secret) {
		t.Errorf("from outside: %d %s", code, body)
	}
	if code, _ := callFrom(e, outside, "", platformKey, "GET", "/api/v1/users", nil); code != 200 {
		t.Errorf("the default tenant is bound by acme's list: %d", code)
	}
	_, audit := callFrom(e, inside, "", acme.admin, "GET", "/api/v1/audit?action=access.address_refused", nil)
	if !strings.Contains(audit, "198.51.100.7") || !strings.Contains(audit, "/api/v1/users") {
		t.Errorf("no audit entry of the refusal: %s", audit)
	}

	// Per role: admins from one address, everybody else anywhere.
	if code, body := set(inside, domain.SettingAPIAllowlist, "admin:192.0.2.1"); code != 200 {
		t.Fatalf("set per role: %d %s", code, body)
	}
	if code, _ := callFrom(e, outside, "", viewer, "GET", "/api/v1/resources", nil); code != 200 {
		t.Errorf("a viewer, unbound, from outside: %d", code)
	}
	if code, _ := callFrom(e, "192.0.2.9:1", "", acme.admin, "GET", "/api/v1/resources", nil); code != http.StatusForbidden {
		t.Errorf("an admin from another inside address: %d", code)
	}

	// Behind a trusted proxy the forwarded address decides; from
	// anywhere else a forwarded address is not believed.
	if code, body := callFrom(e, inside, "", platformKey, "PUT", "/api/v1/settings/"+SettingTrustedProxies, settingValue{Value: "192.0.2.200"}); code != 200 {
		t.Fatalf("trusted_proxies: %d %s", code, body)
	}
	if code, body := set(inside, SettingTrustedProxies, "0.0.0.0/0"); code != 404 {
		t.Errorf("a tenant sets the platform's trusted_proxies: %d %s", code, body)
	}
	if code, _ := callFrom(e, "192.0.2.200:1", "192.0.2.1", acme.admin, "GET", "/api/v1/resources", nil); code != 200 {
		t.Errorf("through the proxy from the admin's address: %d", code)
	}
	if code, _ := callFrom(e, "192.0.2.200:1", "198.51.100.7", acme.admin, "GET", "/api/v1/resources", nil); code != http.StatusForbidden {
		t.Errorf("through the proxy from outside: %d", code)
	}
	if code, _ := callFrom(e, outside, "192.0.2.1", acme.admin, "GET", "/api/v1/resources", nil); code != http.StatusForbidden {
		t.Errorf("a forged X-Forwarded-For from outside: %d", code)
	}

	// The console's list binds sessions and sign-in, not API keys.
	if code, body := set("192.0.2.1:1", domain.SettingConsoleAllowlist, "192.0.2.0/24"); code != 200 {
		t.Fatalf("console list: %d %s", code, body)
	}
	if code, _ := callFrom(e, "192.0.2.1:1", "", viewer, "GET", "/api/v1/resources", nil); code != 200 {
		t.Errorf("an API key under the console's list: %d", code)
	}
	addUser(t, svcStore(t, e, "acme"), "ann@acme.example", "correct horse battery", domain.RoleAdmin)
	hs := httptest.NewServer(e.srv) // its clients come from 127.0.0.1, outside
	defer hs.Close()
	b := newBrowser(t, hs)
	tok := b.csrf("/login")
	resp, page := b.post("/login", url.Values{"csrf": {tok}, "organisation": {"acme"}, "email": {"ann@acme.example"}, "password": {"correct horse battery"}})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "your address") || b.sessionCookie() != "" {
		t.Errorf("sign-in from outside: %d, cookie %q", resp.StatusCode, b.sessionCookie())
	}
	if code, body := set("192.0.2.1:1", domain.SettingConsoleAllowlist, "127.0.0.1 192.0.2.0/24"); code != 200 {
		t.Fatalf("console list: %d %s", code, body)
	}
	if resp, _ := b.post("/login", url.Values{"csrf": {tok}, "organisation": {"acme"}, "email": {"ann@acme.example"}, "password": {"correct horse battery"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in from inside: %d", resp.StatusCode)
	}
	if code, _ := b.get("/users"); code != 200 {
		t.Errorf("a page from inside: %d", code)
	}
	if code, body := set("192.0.2.1:1", domain.SettingConsoleAllowlist, "192.0.2.0/24"); code != 200 {
		t.Fatalf("console list: %d %s", code, body)
	}
	if code, body := b.get("/users"); code != http.StatusForbidden || strings.Contains(body, acme.secret) {
		t.Errorf("a page from outside once the list changed: %d", code)
	}
}

// svcStore is tenant id's store, for seeding it directly.
func svcStore(t *testing.T, e *env, id string) domain.Store {
	t.Helper()
	st, err := e.st.Tenant(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestSettingsPage sets the allowlist from the settings page, which the
// guard holds as it holds the API.
func TestSettingsPage(t *testing.T) {
	e := newEnv(t, nil)
	addUser(t, e.st, "ann@example.com", "correct horse battery", domain.RoleAdmin)
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	b := signedIn(t, hs, "ann@example.com")
	code, body := b.get("/settings")
	if code != 200 || !strings.Contains(body, domain.SettingConsoleAllowlist) || !strings.Contains(body, "sessions.admin") {
		t.Fatalf("settings page: %d", code)
	}
	tok := b.csrf("/settings")
	b.post("/settings", url.Values{"csrf": {tok}, "key": {domain.SettingConsoleAllowlist}, "value": {"203.0.113.0/24"}})
	if _, body := b.get("/settings"); !strings.Contains(body, "lockout") && !strings.Contains(body, "would refuse your own address") {
		t.Errorf("a lockout from the page was not refused with its reason")
	}
	b.post("/settings", url.Values{"csrf": {tok}, "key": {domain.SettingConsoleAllowlist}, "value": {"127.0.0.1 203.0.113.0/24"}})
	if code, body := b.get("/settings"); code != 200 || !strings.Contains(body, "127.0.0.1 203.0.113.0/24") {
		t.Errorf("the allowlist set from the page: %d", code)
	}
}

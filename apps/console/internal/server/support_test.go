package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// TestSupportAccessOverHTTP walks support access from outside: the
// platform's administrator reads nothing of a tenant until its admin
// grants access; then she reads with the granted role and changes
// nothing, through the API with the support header and through the
// pages with the support cookie; the tenant's admin ends it and she
// reads nothing again; both audit logs hold every step.
func TestSupportAccessOverHTTP(t *testing.T) {
	e := newEnv(t, nil)
	platformKey := e.keys[domain.RoleAdmin]
	if code, body := tenantCall(e, platformKey, "", "POST", "/api/v1/tenants", tenantRequest{ID: "acme", Name: "Acme"}); code != 201 || !strings.Contains(string(body), `"acme"`) {
		t.Fatalf("create tenant: %d %s", code, body)
	}
	acme := seedTenant(t, e, "acme")
	read := func(method, path string) (int, string) {
		code, body := tenantCall(e, platformKey, "acme", method, path, nil)
		return code, string(body)
	}
	if code, body := read("GET", "/api/v1/users"); code != http.StatusForbidden || strings.Contains(body, acme.secret) {
		t.Fatalf("support before a grant: %d %s", code, body)
	}
	if code, body := tenantCall(e, platformKey, "", "POST", "/api/v1/tenants/acme/support", nil); code != http.StatusForbidden {
		t.Fatalf("begin support before a grant: %d %s", code, body)
	}

	// The tenant's admin grants auditor access for four hours; an
	// operator cannot, nor can anyone grant admin.
	if code, body := tenantCall(e, acme.admin, "", "PUT", "/api/v1/support", supportRequest{Role: domain.RoleAdmin, Duration: "4h"}); code != 400 {
		t.Fatalf("admin support: %d %s", code, body)
	}
	if code, body := tenantCall(e, acme.admin, "", "PUT", "/api/v1/support", supportRequest{Role: domain.RoleAuditor, Duration: "4h"}); code != 200 || !strings.Contains(string(body), `"auditor"`) {
		t.Fatalf("grant: %d %s", code, body)
	}
	if code, body := tenantCall(e, platformKey, "", "POST", "/api/v1/tenants/acme/support", nil); code != 200 || !strings.Contains(string(body), `"auditor"`) {
		t.Fatalf("begin support: %d %s", code, body)
	}
	if code, body := read("GET", "/api/v1/users"); code != 200 || !strings.Contains(body, acme.secret) {
		t.Fatalf("support read: %d %s", code, body)
	}
	if code, body := read("GET", "/api/v1/audit"); code != 200 || !strings.Contains(body, "support.access") {
		t.Errorf("support reads the tenant's audit log: %d %s", code, body)
	}
	// Nothing is changed under support, not even by a platform admin.
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/v1/users"}, {"PUT", "/api/v1/resources/x.internal"}, {"DELETE", "/api/v1/devices/" + acme.device},
		{"POST", "/api/v1/apikeys"}, {"POST", "/api/v1/gateways"}, {"PUT", "/api/v1/support"},
	} {
		if code, body := read(c.method, c.path); code != http.StatusForbidden {
			t.Errorf("%s %s under support: %d %s", c.method, c.path, code, body)
		}
	}
	// Her own account and the platform's routes stay hers.
	if code, body := read("GET", "/api/v1/me"); code != 200 || strings.Contains(body, acme.secret) {
		t.Errorf("/api/v1/me under support: %d %s", code, body)
	}
	if code, body := read("GET", "/api/v1/tenants"); code != 200 {
		t.Errorf("/api/v1/tenants under support: %d %s", code, body)
	}

	// The pages: a logged-in platform admin begins support with the
	// cookie, reads the tenant's pages with a banner, and ends it.
	addUser(t, e.st, "root@example.com", "correct horse battery", domain.RoleAdmin)
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	b := signedIn(t, hs, "root@example.com")
	code, body := b.get("/platform")
	if code != 200 || !strings.Contains(body, "acme") || !strings.Contains(body, "auditor until") {
		t.Fatalf("platform page: %d %s", code, body)
	}
	tok := b.csrf("/platform")
	if resp, _ := b.post("/platform/acme/support", url.Values{"csrf": {tok}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("begin support page: %d", resp.StatusCode)
	}
	if code, body := b.get("/users"); code != 200 || !strings.Contains(body, acme.secret) || !strings.Contains(body, "support-banner") {
		t.Fatalf("users page under support: %d %s", code, body)
	}
	if resp, _ := b.post("/users", url.Values{"csrf": {tok}, "email": {"evil@example.com"}, "password": {"correct horse battery"}, "role": {"admin"}}); resp.StatusCode < 300 || resp.StatusCode == http.StatusCreated {
		t.Errorf("user creation under support: %d", resp.StatusCode)
	}
	if _, body := tenantCall(e, acme.admin, "", "GET", "/api/v1/users?q=evil", nil); strings.Contains(string(body), "evil@") {
		t.Errorf("a user was created under support: %s", body)
	}

	// The tenant's admin ends it: the next page goes back to the
	// platform page, the API is refused.
	if code, body := tenantCall(e, acme.admin, "", "DELETE", "/api/v1/support", nil); code != 204 {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if code, body := read("GET", "/api/v1/users"); code != http.StatusForbidden || strings.Contains(body, acme.secret) {
		t.Errorf("support after revocation: %d %s", code, body)
	}
	if code, body := b.get("/users"); code != http.StatusSeeOther || strings.Contains(body, acme.secret) {
		t.Errorf("users page after revocation: %d %s", code, body)
	}
	if code, body := b.get("/users"); code != 200 || strings.Contains(body, acme.secret) || strings.Contains(body, "support-banner") {
		t.Errorf("users page after the cookie ended: %d", code)
	}

	// Both logs hold the grant, the visits and the revocation.
	_, acmeLog := tenantCall(e, acme.admin, "", "GET", "/api/v1/audit?q=support", nil)
	_, platLog := tenantCall(e, platformKey, "", "GET", "/api/v1/audit?q=support", nil)
	for _, want := range []string{"support.grant", "support.access", "support.revoke"} {
		if !strings.Contains(string(acmeLog), want) || !strings.Contains(string(platLog), want) {
			t.Errorf("%s missing from a log:\nacme %s\nplatform %s", want, acmeLog, platLog)
		}
	}
	if !strings.Contains(string(acmeLog), `"platform:`) {
		t.Errorf("acme's log does not name the platform's administrator: %s", acmeLog)
	}
}

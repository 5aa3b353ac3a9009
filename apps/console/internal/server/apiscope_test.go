package server

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// TestAPIKeyScopes makes scoped keys over the API and uses them: a read
// key reads and changes nothing, a collection key reaches that part of
// the API only, a scoped key reaches no page and cannot make a key
// wider than itself; a key expiring within a week is flagged in the key
// list and on its owner's dashboard.
func TestAPIKeyScopes(t *testing.T) {
	e := newEnv(t, nil)
	admin := e.keys[domain.RoleAdmin]
	mint := func(bearer, scope string, days int) (int, string) {
		code, body := tenantCall(e, bearer, "", "POST", "/api/v1/apikeys", keyRequest{Name: "k-" + scope, Role: domain.RoleAdmin, Scope: scope, ExpiresInDays: days})
		var kc keyCreated
		json.Unmarshal(body, &kc)
		return code, kc.Secret
	}
	if code, _ := mint(admin, "write:devices", 0); code != 400 {
		t.Errorf("a scope that does not parse: %d", code)
	}
	addUser(t, e.st, "ann@example.com", "correct horse battery", domain.RoleAdmin)
	_, read := mint(admin, "read", 0)
	_, devices := mint(admin, "devices", 0)
	_, readDevices := mint(admin, "read:devices", 0)
	_, keys := mint(admin, "apikeys", 0)
	for _, c := range []struct {
		name, bearer, method, path string
		body                       any
		want                       int
	}{
		{"read lists", read, "GET", "/api/v1/users", nil, 200},
		{"read creates", read, "POST", "/api/v1/users", userRequest{Email: "x@example.com", Role: domain.RoleViewer, Password: "correct horse battery"}, 403},
		{"read deletes", read, "DELETE", "/api/v1/groups/eng", nil, 403},
		{"read on a page", read, "GET", "/users", nil, 403},
		{"devices lists devices", devices, "GET", "/api/v1/devices", nil, 200},
		{"devices enrols", devices, "POST", "/api/v1/devices", enrolRequest{Name: "laptop", Owner: "ann@example.com"}, 201},
		{"devices lists users", devices, "GET", "/api/v1/users", nil, 403},
		{"devices reads the audit log", devices, "GET", "/api/v1/audit", nil, 403},
		{"devices asks who it is", devices, "GET", "/api/v1/me", nil, 200},
		{"devices streams", devices, "GET", "/api/v1/stream", nil, 403},
		{"read:devices lists devices", readDevices, "GET", "/api/v1/devices", nil, 200},
		{"read:devices enrols", readDevices, "POST", "/api/v1/devices", enrolRequest{Name: "phone", Owner: "ann@example.com"}, 403},
	} {
		if code, body := tenantCall(e, c.bearer, "", c.method, c.path, c.body); code != c.want {
			t.Errorf("%s: %s %s: %d, want %d (%s)", c.name, c.method, c.path, code, c.want, body)
		}
	}
	// A key scoped to keys cannot make one of the whole role, or of
	// another collection; within its scope it can.
	for scope, want := range map[string]int{"": 403, "devices": 403, "read": 403, "apikeys": 201, "read:apikeys": 201} {
		if code, _ := mint(keys, scope, 0); code != want {
			t.Errorf("an apikeys key mints %q: %d, want %d", scope, code, want)
		}
	}

	// Expiring keys: flagged in the list, and on the dashboard of the
	// owner, signed in as a person.
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	b := signedIn(t, hs, "ann@example.com")
	if _, body := b.get("/"); strings.Contains(body, "expiring-keys") {
		t.Fatal("the dashboard flags keys before there are any")
	}
	tok := b.csrf("/apikeys")
	if resp, body := b.post("/apikeys", url.Values{"csrf": {tok}, "name": {"nightly-export"}, "role": {"auditor"}, "scope": {"read:audit"}, "expires_in_days": {"3"}}); resp.StatusCode != 200 || !strings.Contains(body, "gk_") {
		t.Fatalf("key from the page: %d", resp.StatusCode)
	}
	if _, body := b.get("/"); !strings.Contains(body, "expiring-keys") || !strings.Contains(body, "nightly-export") {
		t.Errorf("the dashboard does not flag the expiring key")
	}
	if _, body := b.get("/apikeys"); !strings.Contains(body, "expires this week") || !strings.Contains(body, "read:audit") {
		t.Errorf("the key page does not show the key's scope and expiry")
	}
	_, list := tenantCall(e, admin, "", "GET", "/api/v1/apikeys", nil)
	if !strings.Contains(string(list), `"scope":"read:audit","expires_soon":true`) {
		t.Errorf("the key list does not flag it: %s", list)
	}
}

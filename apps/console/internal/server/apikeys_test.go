package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// do sends one JSON request with the session cookie and its CSRF token
// (from /api/v1/me), or with bearer instead when it is not empty, and
// decodes the answer into out when out is not nil.
func (b *browser) do(method, path, bearer string, body, out any) int {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, b.base+path, rd)
	c := b.c
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
		c = http.DefaultClient
	} else if method != "GET" {
		var me meAnswer
		if code := b.do("GET", "/api/v1/me", "", nil, &me); code != 200 {
			b.t.Fatalf("GET /api/v1/me: %d", code)
		}
		req.Header.Set("X-CSRF-Token", me.CSRF)
	}
	resp, err := c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			b.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

// TestAPIKeysActForTheirOwnerAndExpire makes API keys over the REST API
// and uses them past their owner's demotion and disabling and past their
// expiry: each is refused with 401 from then on.
func TestAPIKeysActForTheirOwnerAndExpire(t *testing.T) {
	st := storetest.SQLite(t)
	var offset atomic.Int64 // how far the console's clock is ahead
	srv, err := New(st, &Options{Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	_, root, err := srv.CreateAPIKey(bg, "root", domain.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	ada := addUser(t, st, "ada@example.com", "correct horse battery", domain.RoleAdmin)
	addUser(t, st, "bob@example.com", "correct horse battery", domain.RoleAdmin)
	b := newBrowser(t, hs)
	if resp := b.login("ada@example.com", "correct horse battery", ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}

	mint := func(as *browser, bearer string, req keyRequest, want int) keyCreated {
		t.Helper()
		var k keyCreated
		if code := as.do("POST", "/api/v1/apikeys", bearer, req, &k); code != want {
			t.Fatalf("create key %+v: %d, want %d", req, code, want)
		}
		return k
	}
	works := func(what, secret string, want int) {
		t.Helper()
		if code := b.do("GET", "/api/v1/me", secret, nil, nil); code != want {
			t.Errorf("%s: GET /api/v1/me = %d, want %d", what, code, want)
		}
	}

	adminKey := mint(b, "", keyRequest{Name: "ci-admin", Role: domain.RoleAdmin}, 201)
	opsKey := mint(b, "", keyRequest{Name: "ci-ops", Role: domain.RoleOperator, ExpiresInDays: 7}, 201)
	if adminKey.Key.Owner != ada.ID || opsKey.Key.Owner != ada.ID {
		t.Errorf("owners %q, %q, want %q", adminKey.Key.Owner, opsKey.Key.Owner, ada.ID)
	}
	if d := time.Until(adminKey.Key.Expires); d < 89*24*time.Hour || d > 90*24*time.Hour {
		t.Errorf("default expiry in %v, want 90 days", d)
	}
	if d := time.Until(opsKey.Key.Expires); d < 6*24*time.Hour || d > 7*24*time.Hour {
		t.Errorf("expiry in %v, want 7 days", d)
	}
	for _, bad := range []keyRequest{
		{Name: "forever", Role: domain.RoleViewer, ExpiresInDays: domain.MaxAPIKeyDays + 1},
		{Name: "past", Role: domain.RoleViewer, ExpiresInDays: -1},
		{Name: "nobody", Role: "root"},
	} {
		mint(b, "", bad, 400)
	}
	// An operator key may not make keys; a key made by an admin key acts
	// for the same owner and lives no longer.
	mint(b, opsKey.Secret, keyRequest{Name: "child", Role: domain.RoleViewer}, 403)
	grand := mint(b, adminKey.Secret, keyRequest{Name: "grand", Role: domain.RoleViewer, ExpiresInDays: domain.MaxAPIKeyDays}, 201)
	if grand.Key.Owner != ada.ID || grand.Key.Expires.After(adminKey.Key.Expires) {
		t.Errorf("a key's key: owner %q, expires %v (the parent %v)", grand.Key.Owner, grand.Key.Expires, adminKey.Key.Expires)
	}
	works("admin key", adminKey.Secret, 200)
	works("operator key", opsKey.Secret, 200)

	// Ada is demoted to operator: her admin keys stop, her operator key
	// goes on; a key cannot do more than its owner.
	if code := b.do("PATCH", "/api/v1/users/"+ada.ID, root, map[string]any{"role": "operator"}, nil); code != 200 {
		t.Fatalf("demote: %d", code)
	}
	works("admin key of a demoted owner", adminKey.Secret, 401)
	works("viewer key made by that admin key", grand.Secret, 200)
	works("operator key of an operator", opsKey.Secret, 200)
	if code := b.do("GET", "/api/v1/apikeys", adminKey.Secret, nil, nil); code != 401 {
		t.Errorf("admin route with a demoted owner's admin key: %d", code)
	}

	// Ada is disabled: every key of hers stops.
	if code := b.do("PATCH", "/api/v1/users/"+ada.ID, root, map[string]any{"disabled": true}, nil); code != 200 {
		t.Fatalf("disable: %d", code)
	}
	works("operator key of a disabled owner", opsKey.Secret, 401)
	works("viewer key of a disabled owner", grand.Secret, 401)

	// Expiry: Bob's one-day key works for a day, then never again.
	bob := newBrowser(t, hs)
	bob.login("bob@example.com", "correct horse battery", "")
	day := mint(bob, "", keyRequest{Name: "one-day", Role: domain.RoleAuditor, ExpiresInDays: 1}, 201)
	offset.Store(int64(23 * time.Hour))
	works("a one-day key after 23 hours", day.Secret, 200)
	offset.Store(int64(25 * time.Hour))
	works("a one-day key after 25 hours", day.Secret, 401)
	if code := b.do("GET", "/api/v1/audit", day.Secret, nil, nil); code != 401 {
		t.Errorf("expired key on its own route: %d", code)
	}
}

// TestCoversIsPermissionInclusion checks covers against the route table:
// a holder covers a role exactly when every route the role may use, the
// holder may use too.
func TestCoversIsPermissionInclusion(t *testing.T) {
	e := newEnv(t, nil)
	for _, holder := range domain.Roles {
		for _, role := range domain.Roles {
			want := true
			for _, rt := range e.srv.routes() {
				if rt.perm != permPublic && rt.perm != permGateway && allowed(rt.perm, role) && !allowed(rt.perm, holder) {
					want = false
				}
			}
			if got := covers(holder, role); got != want {
				t.Errorf("covers(%s, %s) = %v, want %v", holder, role, got, want)
			}
		}
	}
	if covers(domain.RoleOperator, domain.RoleAdmin) || !covers(domain.RoleAdmin, domain.RoleOperator) || covers(domain.RoleOperator, domain.RolePolicyEditor) {
		t.Error("covers disagrees with the roles' documented permissions")
	}
}

package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// TestSessionPolicies sets a tenant's session policies over the API and
// signs in with browsers: a role's idle and absolute timeouts end its
// sessions, a sign-in past the concurrent limit is refused or ends the
// oldest as configured, a role that needs a second factor reaches only
// its account without one, and a sensitive change wants the password
// again once the sign-in is five minutes old.
func TestSessionPolicies(t *testing.T) {
	var offset atomic.Int64
	srv, err := New(storetest.SQLite(t), &Options{Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	e := &env{t: t, st: nil, srv: srv, keys: map[domain.Role]string{}}
	_, admin, _ := srv.CreateAPIKey(bg, "admin", domain.RoleAdmin)
	e.keys[domain.RoleAdmin] = admin
	st := srv.plat.Default()
	for _, email := range []string{"vic@example.com", "ann@example.com"} {
		role := domain.RoleViewer
		if email == "ann@example.com" {
			role = domain.RoleAdmin
		}
		if _, err := st.CreateUser(bg, domain.Actor{ID: "setup", Role: domain.RoleAdmin}, domain.NewUser{Email: email, Role: role, Password: "correct horse battery"}); err != nil {
			t.Fatal(err)
		}
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	setPolicy := func(role domain.Role, v string) {
		t.Helper()
		if code, body := tenantCall(e, admin, "", "PUT", "/api/v1/settings/sessions."+string(role), settingValue{Value: v}); code != 200 {
			t.Fatalf("policy %s %q: %d %s", role, v, code, body)
		}
	}
	signIn := func(email string) (*browser, int) {
		b := newBrowser(t, hs)
		return b, b.login(email, "correct horse battery", "").StatusCode
	}
	signedIn := func(b *browser) bool {
		code, _ := b.get("/account")
		return code == 200
	}

	if code, body := tenantCall(e, admin, "", "PUT", "/api/v1/settings/sessions.viewer", settingValue{Value: "idle=1h max=30m"}); code != 400 || !strings.Contains(string(body), "longer than max") {
		t.Fatalf("a policy idling past its maximum: %d %s", code, body)
	}

	// Two sessions at most; the third is refused.
	setPolicy(domain.RoleViewer, "idle=10m max=1h concurrent=2 when_full=refuse")
	b1, c1 := signIn("vic@example.com")
	b2, c2 := signIn("vic@example.com")
	_, c3 := signIn("vic@example.com")
	if c1 != http.StatusSeeOther || c2 != http.StatusSeeOther || c3 != http.StatusConflict {
		t.Fatalf("sign-ins under concurrent=2 refuse: %d %d %d", c1, c2, c3)
	}
	// Ending the oldest instead: the third signs in, the first is out.
	setPolicy(domain.RoleViewer, "idle=10m max=1h concurrent=2")
	b3, c3 := signIn("vic@example.com")
	if c3 != http.StatusSeeOther || signedIn(b1) || !signedIn(b2) || !signedIn(b3) {
		t.Fatalf("end_oldest: sign-in %d, first %v second %v third %v", c3, signedIn(b1), signedIn(b2), signedIn(b3))
	}
	// Idle: eleven minutes without use ends the session.
	offset.Store(int64(11 * time.Minute))
	if signedIn(b2) {
		t.Error("a session idle past its role's idle timeout")
	}
	offset.Store(0)

	// A second factor for admins: Ann, without one, reaches her account
	// only. She cannot set it herself without one (lockout guard).
	b, code := signIn("ann@example.com")
	if code != http.StatusSeeOther {
		t.Fatalf("ann: %d", code)
	}
	tok := b.csrf("/account")
	if resp, _ := b.post("/api/v1/settings/sessions.admin", url.Values{"csrf": {tok}}); resp.StatusCode == 200 {
		t.Fatal("a form post reached a JSON route")
	}
	req, _ := http.NewRequest("PUT", hs.URL+"/api/v1/settings/sessions.admin", strings.NewReader(`{"value":"mfa=required"}`))
	req.Header.Set("X-CSRF-Token", tok)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("ann requires MFA of her own role without one: %d", resp.StatusCode)
	}
	setPolicy(domain.RoleAdmin, "mfa=required") // an API key is not a session
	if code, _ := b.get("/users"); code != http.StatusSeeOther {
		t.Errorf("a page without the second factor its role needs: %d", code)
	}
	if !signedIn(b) {
		t.Error("her own account is closed to her without a second factor")
	}
	setPolicy(domain.RoleAdmin, "")

	// Sensitive changes after five minutes want the password again.
	offset.Store(int64(6 * time.Minute))
	b, _ = signIn("ann@example.com")
	offset.Store(int64(12 * time.Minute))
	tok = b.csrf("/account")
	form := url.Values{"csrf": {tok}, "email": {"new@example.com"}, "role": {"viewer"}, "password": {"correct horse battery"}}
	resp, _ = b.post("/users", form)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/account/reauth") {
		t.Fatalf("a stale session creating a user: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, body := tenantCall(e, admin, "", "GET", "/api/v1/users?q=new@", nil); strings.Contains(string(body), "new@example.com") {
		t.Fatal("the stale session created the user")
	}
	if resp, _ := b.post("/account/reauth?next=/users", url.Values{"csrf": {tok}, "password": {"wrong wrong wrong"}}); !strings.HasPrefix(resp.Header.Get("Location"), "/account/reauth") {
		t.Errorf("a wrong password re-authenticated: %s", resp.Header.Get("Location"))
	}
	if resp, _ := b.post("/account/reauth?next=/users", url.Values{"csrf": {tok}, "password": {"correct horse battery"}}); resp.Header.Get("Location") != "/users" {
		t.Fatalf("re-authentication: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := b.post("/users", form); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/users" {
		t.Fatalf("creating a user after re-authentication: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, body := tenantCall(e, admin, "", "GET", "/api/v1/users?q=new@", nil); !strings.Contains(string(body), "new@example.com") {
		t.Error("the user was not created after re-authentication")
	}
}

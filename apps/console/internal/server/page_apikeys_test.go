package server

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// TestAPIKeysPage creates, lists and revokes API keys on the page as an
// admin: the secret shown once works on the API; a bad lifetime or a
// role above the admin's own is refused and creates nothing; another
// admin's keys are neither listed nor revocable; a revoked key stops
// working; other roles are refused the page.
func TestAPIKeysPage(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	addUser(t, e.st, "ada@example.com", "correct horse battery", domain.RoleAdmin)
	addUser(t, e.st, "bob@example.com", "correct horse battery", domain.RoleAdmin)
	addUser(t, e.st, "opal@example.com", "correct horse battery", domain.RoleOperator)
	login := func(email string) *browser {
		b := newBrowser(t, hs)
		if resp := b.login(email, "correct horse battery", ""); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login %s: %d", email, resp.StatusCode)
		}
		return b
	}
	ada, bob, opal := login("ada@example.com"), login("bob@example.com"), login("opal@example.com")
	if code, _ := opal.get("/apikeys"); code != http.StatusForbidden {
		t.Errorf("operator GET /apikeys: %d, want 403", code)
	}
	if _, page := ada.get("/account"); !strings.Contains(page, `href="/apikeys"`) {
		t.Error("an admin's Account page does not lead to the API keys")
	}
	create := func(b *browser, name, role, days string) (int, string) {
		t.Helper()
		resp, body := b.post("/apikeys", url.Values{"csrf": {b.csrf("/apikeys")}, "name": {name}, "role": {role}, "expires_in_days": {days}})
		m := preBlock.FindStringSubmatch(body)
		if m == nil {
			return resp.StatusCode, ""
		}
		return resp.StatusCode, html.UnescapeString(strings.TrimSpace(m[1]))
	}
	useKey := func(secret string) int {
		req, _ := http.NewRequest("GET", hs.URL+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	before, _ := e.st.ListAPIKeys(bg)
	for _, bad := range [][3]string{{"ci", "operator", "0"}, {"ci", "operator", "366"}, {"ci", "operator", "soon"}, {"ci", "superuser", "7"}, {"", "viewer", "7"}} {
		if _, secret := create(ada, bad[0], bad[1], bad[2]); secret != "" {
			t.Errorf("create %v: a key was made", bad)
		}
		if _, page := ada.get("/apikeys"); !strings.Contains(page, "not created: ") {
			t.Errorf("create %v: no refusal shown", bad)
		}
	}
	if after, _ := e.st.ListAPIKeys(bg); len(after) != len(before) {
		t.Fatalf("refused creations stored keys: %d, then %d", len(before), len(after))
	}

	code, secret := create(ada, "ci-ops", "operator", "7")
	if code != http.StatusOK || !strings.HasPrefix(secret, "gk_") {
		t.Fatalf("create: %d %q", code, secret)
	}
	if got := useKey(secret); got != http.StatusOK {
		t.Fatalf("the new key on the API: %d", got)
	}
	_, bobSecret := create(bob, "bob-ci", "viewer", "30")
	if _, page := ada.get("/apikeys"); !strings.Contains(page, "ci-ops") || strings.Contains(page, "bob-ci") || strings.Contains(page, "test-admin") {
		t.Errorf("ada's API keys page does not list exactly her keys:\n%s", page)
	}
	bobID := strings.TrimPrefix(strings.SplitN(bobSecret, ".", 2)[0], "gk_")
	ada.post("/apikeys/"+bobID+"/revoke", url.Values{"csrf": {ada.csrf("/apikeys")}})
	if _, page := ada.get("/apikeys"); !strings.Contains(page, "not revoked: no such key of yours") {
		t.Error("revoking another admin's key: no refusal shown")
	}
	if got := useKey(bobSecret); got != http.StatusOK {
		t.Errorf("bob's key after ada's refused revoke: %d", got)
	}
	adaID := strings.TrimPrefix(strings.SplitN(secret, ".", 2)[0], "gk_")
	ada.post("/apikeys/"+adaID+"/revoke", url.Values{"csrf": {ada.csrf("/apikeys")}})
	if got := useKey(secret); got != http.StatusUnauthorized {
		t.Errorf("revoked key on the API: %d, want 401", got)
	}
}

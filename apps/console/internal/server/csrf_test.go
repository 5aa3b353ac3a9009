package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// TestCSRFTokenIsNotStored signs in over HTTP and reads the session's
// row straight from the database: neither the CSRF token the pages carry
// nor the session cookie is in it, and the token still guards forms.
func TestCSRFTokenIsNotStored(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	addUser(t, e.st, "ada@example.com", "correct horse battery", domain.RoleAdmin)
	b := newBrowser(t, hs)
	if resp := b.login("ada@example.com", "correct horse battery", ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	tok := b.csrf("/resources")
	rows, err := e.st.SQL().Query(`SELECT id, user_id, csrf, created, last_seen, mfa FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
		var id, user, csrf, created, seen, mfa string
		if err := rows.Scan(&id, &user, &csrf, &created, &seen, &mfa); err != nil {
			t.Fatal(err)
		}
		for _, col := range []string{id, user, csrf, created, seen, mfa} {
			if strings.Contains(col, tok) || strings.Contains(col, b.sessionCookie()) {
				t.Errorf("the session row holds a secret in the clear: %q", col)
			}
		}
		if csrf != tokenHash(tok) {
			t.Errorf("the row's csrf column is not the token's hash")
		}
	}
	rows.Close()
	if n != 1 {
		t.Fatalf("%d sessions stored", n)
	}
	// The hash is not a token: sending it is refused, the token accepted.
	if resp, _ := b.post("/resources", url.Values{"csrf": {tokenHash(tok)}, "name": {"x.corp"}, "kind": {"tcp"}, "address": {"10.0.0.1"}, "port": {"22"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("form with the stored hash as token: %d", resp.StatusCode)
	}
	if resp, _ := b.post("/resources", url.Values{"csrf": {tok}, "name": {"x.corp"}, "kind": {"tcp"}, "address": {"10.0.0.1"}, "port": {"22"}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("form with the token: %d", resp.StatusCode)
	}
}

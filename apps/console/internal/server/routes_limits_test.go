package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// apiPost posts body to the console over HTTP as an API key; chunked
// sends it without a length, as a streaming client would.
func apiPost(t *testing.T, hs *httptest.Server, key, path, body string, chunked bool) *http.Response {
	t.Helper()
	var rd io.Reader = strings.NewReader(body)
	if chunked {
		rd = io.MultiReader(rd) // hides the length
	}
	req, _ := http.NewRequest("POST", hs.URL+path, rd)
	if path == "/api/v1/policies/access" {
		req.Method = "PUT"
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func draftBody(n int) string {
	return `{"name":"p","source":"# ` + strings.Repeat("a", n) + `\nrules: []\n"}`
}

// TestPolicyDraftLimitConfigurable: the draft limit is an option, and
// every route that carries a draft holds to it, with or without a
// declared length.
func TestPolicyDraftLimitConfigurable(t *testing.T) {
	e := newEnvWith(t, nil, &Options{PolicyDraftLimit: 64 << 10})
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	for _, c := range []struct {
		role domain.Role
		path string
	}{
		{domain.RoleViewer, "/api/v1/policies/validate"},
		{domain.RolePolicyEditor, "/api/v1/policies/simulate"},
		{domain.RolePolicyEditor, "/api/v1/policies/access"},
	} {
		for _, chunked := range []bool{false, true} {
			if resp := apiPost(t, hs, e.keys[c.role], c.path, draftBody(100<<10), chunked); resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("%s with a 100 KiB draft (chunked %t): %d, want 413", c.path, chunked, resp.StatusCode)
			}
		}
		if resp := apiPost(t, hs, e.keys[c.role], c.path, draftBody(32<<10), false); resp.StatusCode != http.StatusOK {
			t.Errorf("%s with a 32 KiB draft: %d, want 200", c.path, resp.StatusCode)
		}
	}
	// The pages' draft routes too.
	form := url.Values{"name": {"p"}, "source": {"# " + strings.Repeat("a", 100<<10)}}
	for _, path := range []string{"/ui/policies/validate", "/ui/policies/simulate", "/policies/save"} {
		if resp := e.form(domain.RoleAdmin, path, form); resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s with a 100 KiB draft: %d, want 413", path, resp.StatusCode)
		}
	}

	// Raised past the general 2 MiB body limit, a 3 MiB draft is read.
	big := newEnvWith(t, nil, &Options{PolicyDraftLimit: 4 << 20})
	hb := httptest.NewServer(big.srv)
	defer hb.Close()
	if resp := apiPost(t, hb, big.keys[domain.RoleViewer], "/api/v1/policies/validate", draftBody(3<<20), false); resp.StatusCode != http.StatusOK {
		t.Errorf("a 3 MiB draft under a 4 MiB limit: %d, want 200", resp.StatusCode)
	}
}

// TestPolicyValidationRateLimited: validation is rate-limited per user,
// across that user's sessions, with 429 and Retry-After; another user
// is not affected.
func TestPolicyValidationRateLimited(t *testing.T) {
	st := newEnvWith(t, nil, &Options{CompileBurst: 3, CompileEvery: time.Hour})
	hs := httptest.NewServer(st.srv)
	defer hs.Close()
	addUser(t, st.st, "vera@example.com", "correct horse battery", domain.RoleViewer)
	addUser(t, st.st, "walt@example.com", "correct horse battery", domain.RoleViewer)
	session := func(email string) (*browser, string) {
		b := newBrowser(t, hs)
		if resp := b.login(email, "correct horse battery", ""); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login %s: %d", email, resp.StatusCode)
		}
		return b, b.csrf("/policies/p")
	}
	validate := func(b *browser, tok string) *http.Response {
		resp, _ := b.post("/ui/policies/validate", url.Values{"csrf": {tok}, "name": {"p"}, "source": {"rules: []\n"}})
		return resp
	}
	v1, tok1 := session("vera@example.com")
	v2, tok2 := session("vera@example.com") // the same user, another session
	for i := range 3 {
		b, tok := v1, tok1
		if i == 2 {
			b, tok = v2, tok2
		}
		if resp := validate(b, tok); resp.StatusCode != http.StatusOK {
			t.Fatalf("validation %d: %d", i, resp.StatusCode)
		}
	}
	resp := validate(v2, tok2)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("fourth validation: %d, want 429", resp.StatusCode)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 3600 {
		t.Errorf("Retry-After = %q", resp.Header.Get("Retry-After"))
	}
	if resp := validate(v1, tok1); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the first session after the user's budget: %d, want 429", resp.StatusCode)
	}
	w, tokw := session("walt@example.com")
	if resp := validate(w, tokw); resp.StatusCode != http.StatusOK {
		t.Errorf("another user: %d, want 200", resp.StatusCode)
	}
	// An API key has a bucket of its own, and the API says the same.
	for range 3 {
		apiPost(t, hs, st.keys[domain.RoleViewer], "/api/v1/policies/validate", draftBody(10), false)
	}
	if resp := apiPost(t, hs, st.keys[domain.RoleViewer], "/api/v1/policies/validate", draftBody(10), false); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("API validation past the budget: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

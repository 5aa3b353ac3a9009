package server

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// newBrowserFrom is newBrowser with connections from local, a loopback
// address of its own (any 127.0.0.0/8 address works on Linux), so that
// the console sees another client address. forwarded, when not empty,
// is sent as X-Forwarded-For on every request.
func newBrowserFrom(t *testing.T, hs *httptest.Server, local, forwarded string) *browser {
	b := newBrowser(t, hs)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	var rt http.RoundTripper = tr
	if forwarded != "" {
		rt = forwardingTransport{tr, forwarded}
	}
	jar, _ := cookiejar.New(nil)
	b.c = &http.Client{Jar: jar, Transport: rt, CheckRedirect: b.c.CheckRedirect}
	return b
}

type forwardingTransport struct {
	http.RoundTripper
	xff string
}

func (f forwardingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.xff)
	return f.RoundTripper.RoundTrip(r)
}

// newLoginEnv is a console on loopback whose login backoff, once it
// starts, outlasts the test (an hour), so that timing cannot end it.
func newLoginEnv(t *testing.T) (*env, *httptest.Server) {
	e := newEnv(t, nil)
	srv, err := New(e.st, &Options{BackoffBase: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return e, hs
}

// loginSources are the sources of the audited login attempts of email,
// oldest first.
func loginSources(t *testing.T, st store.Store, email string) []string {
	t.Helper()
	// Entries name a known account by its id and an unknown one by the
	// email as typed.
	f := store.AuditFilter{Actor: email, Limit: 1000}
	if u, err := st.UserByEmail(context.Background(), email); err == nil {
		f.Actors = []string{u.ID}
	}
	evs, err := st.ListAudit(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range slices.Backward(evs) {
		var d struct{ Source string }
		json.Unmarshal(e.Detail, &d)
		if strings.HasPrefix(e.Action, "login") {
			out = append(out, d.Source)
		}
	}
	return out
}

// TestAttackerCannotLockOutAdmin: wrong passwords for the admin from one
// address slow down that address only; the admin logs in from another.
func TestAttackerCannotLockOutAdmin(t *testing.T) {
	e, hs := newLoginEnv(t)
	addUser(t, e.st, "admin@example.com", "correct horse battery", domain.RoleAdmin)
	attacker := newBrowserFrom(t, hs, "127.0.0.2", "")
	for range 15 {
		attacker.login("admin@example.com", "guess guess guess", "")
	}
	// The attacker's source is backed off, even with the right password.
	if resp := attacker.login("admin@example.com", "correct horse battery", ""); resp.StatusCode != 401 {
		t.Errorf("the right password from the backed-off source: %d, want 401", resp.StatusCode)
	}
	admin := newBrowserFrom(t, hs, "127.0.0.3", "")
	if resp := admin.login("admin@example.com", "correct horse battery", ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the admin from another address was locked out: %d", resp.StatusCode)
	}
	// Forging X-Forwarded-For from an untrusted peer changes nothing: the
	// attacker is still 127.0.0.2, backed off.
	forger := newBrowserFrom(t, hs, "127.0.0.2", "127.0.0.3")
	if resp := forger.login("admin@example.com", "correct horse battery", ""); resp.StatusCode != 401 {
		t.Errorf("a forged X-Forwarded-For escaped the backoff: %d", resp.StatusCode)
	}
	// An admin's unlock ends the backoff of every source.
	u, _ := e.st.UserByEmail(bg, "admin@example.com")
	patchUser(t, hs, e.keys[domain.RoleAdmin], u.ID, map[string]any{"unlock": true})
	if resp := attacker.login("admin@example.com", "correct horse battery", ""); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the right password after an unlock: %d", resp.StatusCode)
	}
	srcs := loginSources(t, e.st, "admin@example.com")
	if len(srcs) == 0 || slices.ContainsFunc(srcs, func(s string) bool { return s != "127.0.0.2" && s != "127.0.0.3" }) {
		t.Errorf("audited sources %v", srcs)
	}
}

// TestTrustedProxies: X-Forwarded-For decides the source only when the
// peer is in trusted_proxies, and then by its rightmost untrusted hop, so
// that users behind one proxy do not share a bucket and a client cannot
// choose its own source.
func TestTrustedProxies(t *testing.T) {
	e, hs := newLoginEnv(t)
	addUser(t, e.st, "ada@example.com", "correct horse battery", domain.RoleAdmin)

	// Without the setting the header is ignored.
	spoof := newBrowserFrom(t, hs, "127.0.0.4", "203.0.113.50")
	spoof.login("ada@example.com", "wrong wrong wrong", "")
	if got := loginSources(t, e.st, "ada@example.com"); !slices.Equal(got, []string{"127.0.0.4"}) {
		t.Fatalf("untrusted X-Forwarded-For used: sources %v", got)
	}

	if err := e.st.SetSetting(bg, SettingTrustedProxies, "127.0.0.5/32, 192.0.2.0/24"); err != nil {
		t.Fatal(err)
	}
	// The proxy appends the address it saw; whatever the client wrote
	// to its left is ignored. A second trusted proxy hop is skipped.
	attacker := newBrowserFrom(t, hs, "127.0.0.5", "198.51.100.9, 203.0.113.66, 192.0.2.1")
	for range 12 {
		attacker.login("ada@example.com", "wrong wrong wrong", "")
	}
	if resp := attacker.login("ada@example.com", "correct horse battery", ""); resp.StatusCode != 401 {
		t.Errorf("backed-off client behind the proxy logged in: %d", resp.StatusCode)
	}
	// Another user behind the same proxy is not in the attacker's bucket,
	// even when the attacker names the user's address.
	user := newBrowserFrom(t, hs, "127.0.0.5", "198.51.100.9")
	if resp := user.login("ada@example.com", "correct horse battery", ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a user behind the proxy shares the attacker's backoff: %d", resp.StatusCode)
	}
	got := loginSources(t, e.st, "ada@example.com")
	if got[1] != "203.0.113.66" || got[len(got)-1] != "198.51.100.9" {
		t.Errorf("sources %v, want 203.0.113.66 for the attacker and 198.51.100.9 for the user", got)
	}
	// A malformed setting trusts nobody.
	e.st.SetSetting(bg, SettingTrustedProxies, "127.0.0.5/99")
	spoof2 := newBrowserFrom(t, hs, "127.0.0.5", "198.51.100.77")
	spoof2.login("ada@example.com", "wrong wrong wrong", "")
	if got := loginSources(t, e.st, "ada@example.com"); got[len(got)-1] != "127.0.0.5" {
		t.Errorf("a malformed trusted_proxies was believed: source %s", got[len(got)-1])
	}

	// Gateway registration is throttled by the same client source:
	// rotating X-Forwarded-For from an untrusted peer gets no fresh
	// buckets.
	throttled := false
	for i := range 40 {
		req, _ := http.NewRequest("POST", hs.URL+"/cp/v1/register", strings.NewReader(`{"token":"nope"}`))
		req.Header.Set("X-Forwarded-For", "203.0.113."+string(rune('0'+i%10)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			throttled = true
			break
		}
	}
	if !throttled {
		t.Error("registrations with rotating X-Forwarded-For from an untrusted peer were never throttled")
	}
}

// TestLoginAnswersAlike: an unknown account, a disabled one and one whose
// source is backed off get the answer of a wrong password (status and
// page), even with the right password, after comparable time: the
// argon2 work is done in every case.
func TestLoginAnswersAlike(t *testing.T) {
	// Production argon2 parameters, so that its cost dominates and a
	// missing hash check shows in the timing. dummyHash already has them.
	defer domain.SetPasswordCost(2, 19*1024)()
	e, hs := newLoginEnv(t)
	const pw = "correct horse battery"
	addUser(t, e.st, "real@example.com", pw, domain.RoleAdmin)
	off := addUser(t, e.st, "off@example.com", pw, domain.RoleViewer)
	off.Disabled = true
	if err := e.st.UpdateUser(bg, off); err != nil {
		t.Fatal(err)
	}
	addUser(t, e.st, "slow@example.com", pw, domain.RoleAdmin)
	b := newBrowserFrom(t, hs, "127.0.0.6", "")
	for range 6 {
		b.login("slow@example.com", "wrong wrong wrong", "")
	}
	type answer struct {
		status int
		body   string
		took   time.Duration
	}
	try := func(email, password string) answer {
		tok := b.csrf("/login")
		start := time.Now()
		resp, body := b.post("/login", url.Values{"csrf": {tok}, "email": {email}, "password": {password}})
		took := time.Since(start)
		return answer{resp.StatusCode, strings.ReplaceAll(body, email, "EMAIL"), took}
	}
	fastest := func(email, password string) answer {
		a := try(email, password)
		for range 2 {
			if b := try(email, password); b.took < a.took {
				a.took = b.took
			}
		}
		return a
	}
	wrong := fastest("real@example.com", "wrong wrong wrong")
	if wrong.status != 401 {
		t.Fatalf("wrong password: %d", wrong.status)
	}
	for _, c := range []struct{ name, email string }{
		{"unknown", "nobody@example.com"},
		{"disabled", "off@example.com"},
		{"backed off", "slow@example.com"},
	} {
		got := fastest(c.email, pw)
		if got.status != wrong.status || got.body != wrong.body {
			t.Errorf("%s account: %d %q\nwrong password: %d %q", c.name, got.status, got.body, wrong.status, wrong.body)
		}
		// A skipped argon2 check answers several times faster; noise only
		// slows an answer, so the fastest of three tries is compared
		// (fewer than the per-source throttle's burst in all).
		if got.took < wrong.took/2 {
			t.Errorf("%s account answered in %v, a wrong password in %v", c.name, got.took, wrong.took)
		}
	}
}

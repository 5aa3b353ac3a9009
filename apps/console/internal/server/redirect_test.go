package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// TestLoginNextStaysOnSite logs in over HTTP with next= values that
// browsers resolve to another host and checks that the redirect after
// login goes to this site's root instead.
func TestLoginNextStaysOnSite(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	for i, tc := range []struct{ next, want string }{
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/\r\n/evil.example", "/"},
		{"/\\evil.example", "/"},
		{"\\/evil.example", "/"},
		{"//evil.example", "/"},
		{"/%2F/evil.example", "/"},
		{"https://evil.example/", "/"},
		{"javascript:alert(1)", "/"},
		{"/ /evil.example", "/"},
		{"/\u00a0/evil.example", "/"},
		{"", "/"},
		{"/audit?action=login", "/audit?action=login"},
		{"/resources/x#top", "/resources/x#top"},
	} {
		// One account per case keeps the per-account throttle out of it.
		email := fmt.Sprintf("ada%d@example.com", i)
		addUser(t, e.st, email, "correct horse battery", domain.RoleAdmin)
		b := newBrowser(t, hs)
		tok := b.csrf("/login")
		resp, _ := b.post("/login", url.Values{"csrf": {tok}, "email": {email}, "password": {"correct horse battery"}, "next": {tc.next}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("next=%q: login answered %d", tc.next, resp.StatusCode)
		}
		loc := resp.Header.Get("Location")
		if loc != tc.want {
			t.Errorf("next=%q: redirected to %q, want %q", tc.next, loc, tc.want)
		}
		if u, err := url.Parse(hs.URL); err == nil {
			if got, err := u.Parse(loc); err != nil || got.Host != u.Host {
				t.Errorf("next=%q: redirect %q leaves the site", tc.next, loc)
			}
		}
	}
}

// FuzzSafeNext checks that whatever safeNext accepts is a path that a
// browser resolves against this origin, even after it strips tabs and
// newlines and turns backslashes into slashes.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "/a?b#c", "/\t/evil", "//evil", "/\\evil", "https://x/", "/%2f%2fevil", "/a/../b"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://console.example/login")
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if got != "/" && got != next {
			t.Fatalf("safeNext(%q) = %q", next, got)
		}
		loose := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(got)
		if !strings.HasPrefix(loose, "/") || strings.HasPrefix(loose, "//") {
			t.Fatalf("safeNext(%q) = %q, which a browser reads as %q", next, got, loose)
		}
		u, err := base.Parse(got)
		if err != nil || u.Host != base.Host || u.Scheme != base.Scheme {
			t.Fatalf("safeNext(%q) = %q resolves off the site: %v %v", next, got, u, err)
		}
	})
}

// TestRegisterThrottlePerAddress registers over fresh connections, each
// from a new source port, and checks that the client's address still
// runs out of attempts.
func TestRegisterThrottlePerAddress(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	throttled := false
	for range 40 {
		resp, err := c.Post(hs.URL+"/cp/v1/register", "application/json", strings.NewReader(`{"token":"wrong"}`))
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
		t.Fatal("40 registrations from one address over new connections were never throttled")
	}
}

// TestThrottleBounded fills a throttle with more live keys than it keeps
// and checks that its map stays bounded.
func TestThrottleBounded(t *testing.T) {
	th := newThrottle(3, time.Hour)
	now := time.Now()
	for i := range throttleMaxKeys + 1000 {
		th.allow(fmt.Sprint(i), now)
	}
	if n := len(th.next); n > throttleMaxKeys {
		t.Fatalf("throttle holds %d keys, more than %d", n, throttleMaxKeys)
	}
}

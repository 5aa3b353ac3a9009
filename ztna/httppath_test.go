package ztna_test

import (
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gonaut/gonaut/ztna"
)

// TestHTTPPathBypass sends the spellings of /admin that once slipped past
// the wiki-no-admin rule through the gateway to a real upstream: each is
// refused, and an allowed spelling reaches the upstream as exactly the
// path policy decided on.
func TestHTTPPathBypass(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.RequestURI)
		mu.Unlock()
		io.WriteString(w, "ok")
	})
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "wiki.corp", Kind: "http", Upstreams: []string{httpServer(t, up)}}}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)
	hc := w.client(t, g, "alice").HTTPClient()
	defer hc.CloseIdleConnections()
	do := func(path string) int {
		t.Helper()
		u, err := url.Parse("http://wiki.corp" + path)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://wiki.corp/", nil)
		req.URL = u
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, p := range []string{
		"/admin", "/./admin", "//admin", "/x/../admin", "/x/%2e%2e/admin", "/%2e/admin",
		"/%61dmin", "/%41dmin/../admin/users", "///admin//users", "/x/./../admin",
	} {
		if code := do(p); code != http.StatusForbidden {
			t.Errorf("GET %s = %d, want 403", p, code)
		}
	}
	for _, p := range []string{"/x%2F..%2Fadmin", "/x%5C..%5Cadmin", "/x%2fadmin"} {
		if code := do(p); code != http.StatusBadRequest {
			t.Errorf("GET %s = %d, want 400", p, code)
		}
	}
	mu.Lock()
	if len(seen) != 0 {
		t.Errorf("refused requests reached the upstream: %q", seen)
	}
	mu.Unlock()

	for p, want := range map[string]string{
		"/x/../page":       "/page",
		"//a/./b/%7euser/": "/a/b/~user/",
		"/a%20b/%3f":       "/a%20b/%3F",
	} {
		mu.Lock()
		seen = nil
		mu.Unlock()
		if code := do(p); code != 200 {
			t.Fatalf("GET %s = %d, want 200", p, code)
		}
		mu.Lock()
		if len(seen) != 1 || seen[0] != want {
			t.Errorf("GET %s reached the upstream as %q, want %q", p, seen, want)
		}
		mu.Unlock()
	}
	ev := w.waitEvent(t, func(ev ztna.Event) bool {
		return ev.Kind == ztna.EventRequest && ev.Path == "/admin" && ev.Effect == "deny"
	})
	if ev.Rule != "wiki-no-admin" {
		t.Errorf("normalised admin request event = %+v", ev)
	}
}

// TestHTTPEncodedSlashesKeep runs a gateway whose encoded_slashes is keep,
// with one resource overriding it back to refuse: on the keeping resource
// an encoded slash or backslash is forwarded exactly as policy saw it,
// still encoded, so a rule on /admin still sees /admin%2F...; on the other
// it is refused with 400 before policy or upstream see it.
func TestHTTPEncodedSlashesKeep(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.RequestURI)
		mu.Unlock()
		io.WriteString(w, "ok")
	})
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		s := seen
		seen = nil
		return s
	}
	upstream := httpServer(t, up)
	w := newWorld(t)
	w.cfg.EncodedSlashes = "keep"
	w.cfg.Resources = []ztna.ResourceConfig{
		{Name: "wiki.corp", Kind: "http", Upstreams: []string{upstream}},
		{Name: "lb.corp", Kind: "http", Upstreams: []string{upstream}, EncodedSlashes: "refuse"},
	}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)
	hc := w.client(t, g, "alice").HTTPClient()
	defer hc.CloseIdleConnections()
	do := func(host, path string) int {
		t.Helper()
		u, err := url.Parse("http://" + host + path)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+host+"/", nil)
		req.URL = u
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET %s%s: %v", host, path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for p, want := range map[string]string{
		"/docs/group%2fproject": "/docs/group%2Fproject",
		"/x%5Cy":                "/x%5Cy",
		"/a%252Fb/./c":          "/a%252Fb/c",
		"/x/..%2F/%7e":          "/x/..%2F/~",
	} {
		if code := do("wiki.corp", p); code != 200 {
			t.Fatalf("GET %s = %d, want 200", p, code)
		}
		if s := take(); len(s) != 1 || s[0] != want {
			t.Errorf("GET %s reached the upstream as %q, want %q", p, s, want)
		}
		ev := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Kind == ztna.EventRequest && ev.Path == want })
		if ev.Effect != "allow" {
			t.Errorf("GET %s decided as %+v", p, ev)
		}
	}
	// Next to a byte that must be escaped, a kept %2F is not kept: the
	// request line is no valid escaped path, so the gateway's server
	// reads %2F as the separator, and policy and upstream both see
	// /admin (never policy one path and the upstream another).
	rc := dialRaw(t, ctx, w.client(t, g, "bob"), "wiki.corp:80")
	if resp, body := rc.do(t, "GET /x\"%2F..%2Fadmin HTTP/1.1\nHost: wiki.corp"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /x\"%%2F..%%2Fadmin = %d %q, want 403", resp.StatusCode, body)
	}
	if resp, body := rc.do(t, "GET /x\"%2Fy HTTP/1.1\nHost: wiki.corp"); resp.StatusCode != 200 {
		t.Errorf("GET /x\"%%2Fy = %d %q, want 200", resp.StatusCode, body)
	}
	if s := take(); len(s) != 1 || s[0] != "/x%22/y" {
		t.Errorf("GET /x\"%%2Fy reached the upstream as %q, want /x%%22/y", s)
	}
	if code := do("wiki.corp", "/admin%2Fusers"); code != http.StatusForbidden {
		t.Errorf("GET /admin%%2Fusers = %d, want 403", code)
	}
	if code := do("lb.corp", "/a%2Fb"); code != http.StatusBadRequest {
		t.Errorf("GET lb.corp/a%%2Fb = %d, want 400", code)
	}
	if s := take(); len(s) != 0 {
		t.Errorf("refused requests reached the upstream: %q", s)
	}
}

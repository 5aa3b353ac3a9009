package ztna_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonaut/gonaut/ztna"
)

// seenRequest is what an upstream received: the Host and the headers as
// its Go server parsed them.
type seenRequest struct {
	host   string
	uri    string
	header http.Header
}

// recorder is an HTTP upstream that records every request it receives.
type recorder struct {
	mu   sync.Mutex
	seen []seenRequest
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.seen = append(rec.seen, seenRequest{host: r.Host, uri: r.RequestURI, header: r.Header.Clone()})
	rec.mu.Unlock()
	io.WriteString(w, "upstream "+r.Host+" "+r.URL.Path)
}

// take returns what was received since the last call.
func (rec *recorder) take() []seenRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	s := rec.seen
	rec.seen = nil
	return s
}

// rawConn is one HTTP/1.1 connection to a resource through the tunnel, on
// which the test writes requests byte for byte.
type rawConn struct {
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, ctx context.Context, c *ztna.Client, addr string) *rawConn {
	t.Helper()
	conn, err := c.Dial(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawConn{c: conn, br: bufio.NewReader(conn)}
}

// do writes head (request line and headers, without the blank line) and
// reads the answer.
func (rc *rawConn) do(t *testing.T, head string) (*http.Response, string) {
	t.Helper()
	rc.c.SetDeadline(time.Now().Add(10 * time.Second))
	defer rc.c.SetDeadline(time.Time{})
	if _, err := io.WriteString(rc.c, strings.ReplaceAll(head, "\n", "\r\n")+"\r\n\r\n"); err != nil {
		t.Fatalf("write %q: %v", head, err)
	}
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		t.Fatalf("%q: read response: %v", head, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestHTTPHostMisdirected sends requests to wiki.corp, which alice may
// read, whose Host names hr.corp, which she may not, while both share one
// upstream that serves by Host: each is refused with 421 and recorded,
// and nothing reaches the upstream. A Host that names no resource is
// replaced: the upstream always sees the resource's own name.
func TestHTTPHostMisdirected(t *testing.T) {
	up := &recorder{}
	shared := httpServer(t, up)
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{
		{Name: "wiki.corp", Kind: "http", Upstreams: []string{shared}},
		{Name: "hr.corp", Kind: "http", Address: "10.78.9.9", Upstreams: []string{shared}},
	}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)
	alice := w.client(t, g, "alice")
	rc := dialRaw(t, ctx, alice, "wiki.corp:80")

	// hr.corp itself is denied to alice: the attack is worth trying.
	hc := alice.HTTPClient()
	defer hc.CloseIdleConnections()
	if resp, err := hc.Get("http://hr.corp/salaries"); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("GET hr.corp = %v %v, want 403", resp, err)
	} else {
		resp.Body.Close()
	}

	for _, host := range []string{"hr.corp", "HR.Corp", "hr.corp.", "hr.corp:80", "10.78.9.9", "10.78.9.9:80"} {
		resp, body := rc.do(t, "GET /salaries HTTP/1.1\nHost: "+host)
		if resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("Host %s: %d %q, want 421", host, resp.StatusCode, body)
		}
	}
	// An absolute request URI names the host as well.
	if resp, body := rc.do(t, "GET http://hr.corp/salaries HTTP/1.1\nHost: wiki.corp"); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("absolute URI to hr.corp: %d %q, want 421", resp.StatusCode, body)
	}
	if seen := up.take(); len(seen) != 0 {
		t.Fatalf("misdirected requests reached the upstream: %+v", seen)
	}
	ev := w.waitEvent(t, func(ev ztna.Event) bool {
		return ev.Kind == ztna.EventRequest && strings.Contains(ev.Reason, "misdirected")
	})
	if ev.Effect != "deny" || ev.Resource != "wiki.corp" || ev.Subject != "alice" || !strings.Contains(ev.Reason, "hr.corp") || ev.Path != "/salaries" {
		t.Errorf("misdirected request event = %+v", ev)
	}

	// Its own name, any spelling, or a name the gateway does not serve:
	// the upstream sees wiki.corp.
	for _, host := range []string{"wiki.corp", "WIKI.corp.", "wiki.corp:80", "intranet.example", "127.0.0.1", ""} {
		resp, body := rc.do(t, "GET /page HTTP/1.1\nHost: "+host)
		if resp.StatusCode != 200 {
			t.Errorf("Host %q: %d %q, want 200", host, resp.StatusCode, body)
			continue
		}
		seen := up.take()
		if len(seen) != 1 || seen[0].host != "wiki.corp" || seen[0].header.Get("X-Forwarded-Host") != "wiki.corp" {
			t.Errorf("Host %q reached the upstream as %+v, want Host wiki.corp", host, seen)
		}
	}
	ev = w.waitEvent(t, func(ev ztna.Event) bool {
		return ev.Kind == ztna.EventRequest && ev.Effect == "allow" && ev.Path == "/page"
	})
	if ev.Resource != "wiki.corp" {
		t.Errorf("allowed request event = %+v", ev)
	}
}

// TestHTTPClientIdentityHeaders sends every spelling of the identity
// header and of the forwarding headers a peer could forge through the
// proxy: none reaches the upstream, which receives one identity header,
// the gateway's, and X-Forwarded-* set from what the gateway knows.
func TestHTTPClientIdentityHeaders(t *testing.T) {
	up := &recorder{}
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "wiki.corp", Kind: "http", Upstreams: []string{httpServer(t, up)}}}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)
	rc := dialRaw(t, ctx, w.client(t, g, "bob"), "wiki.corp:80")

	forged := []string{
		"X-Gonaut-Identity", "x-gonaut-identity", "X_Gonaut_Identity", "X_GONAUT_IDENTITY", "x-gonaut_identity",
		"X-Forwarded-User", "X_Forwarded_User", "X-Forwarded-For", "x_forwarded_for", "X-Forwarded-Host",
		"X_Forwarded_Host", "X-Forwarded-Proto", "X-FORWARDED_PROTO", "X-Forwarded-Email", "X-Forwarded-Groups",
		"X-Real-IP", "X_Real_Ip", "x-real-ip", "Forwarded", "FORWARDED", "X-Client-IP", "True-Client-IP",
		"X-Remote-User", "Remote-User", "Remote_User", "X-Original-URL", "X_Rewrite_URL", "X-Auth-Request-User",
	}
	var head strings.Builder
	head.WriteString("GET /page HTTP/1.1\nHost: wiki.corp\nConnection: keep-alive, X-Gonaut-Identity, X-Forwarded-For")
	for _, h := range forged {
		head.WriteString("\n" + h + ": forged")
	}
	resp, body := rc.do(t, head.String())
	if resp.StatusCode != 200 {
		t.Fatalf("request = %d %q", resp.StatusCode, body)
	}
	seen := up.take()
	if len(seen) != 1 {
		t.Fatalf("upstream received %d requests", len(seen))
	}
	h := seen[0].header
	for name, vs := range h {
		for _, v := range vs {
			if strings.Contains(v, "forged") {
				t.Errorf("forged header reached the upstream: %s: %s", name, v)
			}
		}
	}
	ids := 0
	for name, vs := range h {
		if strings.EqualFold(strings.ReplaceAll(name, "_", "-"), ztna.IdentityHeader) {
			if name != ztna.IdentityHeader {
				t.Errorf("identity header spelled %q reached the upstream", name)
			}
			ids += len(vs)
		}
	}
	if ids != 1 {
		t.Fatalf("upstream received %d identity headers, want the gateway's one: %v", ids, h)
	}
	jwks := httptest.NewRecorder()
	g.JWKSHandler().ServeHTTP(jwks, httptest.NewRequest("GET", ztna.JWKSPath, nil))
	claims, err := ztna.VerifyAssertion(jwks.Body.Bytes(), h.Get(ztna.IdentityHeader), "wiki.corp", time.Now())
	if err != nil || claims.Subject != "bob" {
		t.Fatalf("identity header: %+v %v", claims, err)
	}
	want := map[string]string{
		"X-Forwarded-For":   w.devices["bob"].addr.String(),
		"X-Forwarded-Host":  "wiki.corp",
		"X-Forwarded-Proto": "http",
	}
	for name, v := range want {
		if got := h.Values(name); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", name, got, v)
		}
	}
}

// TestHTTPKeepAliveRedecided opens one connection to wiki.corp, sends a
// request that policy allows anyone, removes the user's group, and sends
// a request that needs the group on the same connection: it is denied,
// though the first request's re-decision kept the connection open.
func TestHTTPKeepAliveRedecided(t *testing.T) {
	up := &recorder{}
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "wiki.corp", Kind: "http", Upstreams: []string{httpServer(t, up)}}}
	pol := `rules:
  - id: wiki-public
    effect: allow
    resources: {kind: http, names: [wiki.corp]}
    when: 'resource.path.startsWith("/public/")'
  - id: wiki-eng
    effect: allow
    resources: {kind: http, names: [wiki.corp]}
    when: '"eng" in subject.groups'
`
	if err := writeFile(filepath.Join(w.cfg.Dir, "keepalive.yaml"), pol); err != nil {
		t.Fatal(err)
	}
	w.cfg.Policies = []string{"keepalive.yaml"}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)
	rc := dialRaw(t, ctx, w.client(t, g, "alice"), "wiki.corp:80")

	if resp, body := rc.do(t, "GET /page HTTP/1.1\nHost: wiki.corp"); resp.StatusCode != 200 {
		t.Fatalf("GET /page as eng = %d %q", resp.StatusCode, body)
	}
	if resp, body := rc.do(t, "GET /public/news HTTP/1.1\nHost: wiki.corp"); resp.StatusCode != 200 {
		t.Fatalf("GET /public/news = %d %q", resp.StatusCode, body)
	}
	start := time.Now()
	cfg := *w.cfg
	cfg.Users = append([]ztna.UserConfig(nil), w.cfg.Users...)
	cfg.Users[0].Groups = []string{"sales"}
	if err := g.Reload(ctx, &cfg); err != nil {
		t.Fatal(err)
	}
	// The last request, re-decided, is still allowed: the connection
	// stays, and so does the flow.
	if n := g.ActiveFlows(); n != 1 {
		t.Fatalf("active flows after the group change = %d, want 1", n)
	}
	up.take()
	resp, body := rc.do(t, "GET /page HTTP/1.1\nHost: wiki.corp")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("GET /page on the same connection after losing eng = %d %q, want 403", resp.StatusCode, body)
	}
	if seen := up.take(); len(seen) != 0 {
		t.Errorf("denied request reached the upstream: %+v", seen)
	}
	// Still the same connection, and still decided per request; the
	// assertion the upstream gets says what the directory says now.
	if resp, body := rc.do(t, "GET /public/news HTTP/1.1\nHost: wiki.corp"); resp.StatusCode != 200 {
		t.Fatalf("GET /public/news after the change = %d %q", resp.StatusCode, body)
	}
	seen := up.take()
	if len(seen) != 1 {
		t.Fatalf("upstream received %d requests, want 1", len(seen))
	}
	jwks := httptest.NewRecorder()
	g.JWKSHandler().ServeHTTP(jwks, httptest.NewRequest("GET", ztna.JWKSPath, nil))
	claims, err := ztna.VerifyAssertion(jwks.Body.Bytes(), seen[0].header.Get(ztna.IdentityHeader), "wiki.corp", time.Now())
	if err != nil || len(claims.Groups) != 1 || claims.Groups[0] != "sales" {
		t.Errorf("assertion after the group change = %+v (%v), want groups [sales]", claims, err)
	}
	ev := w.waitEvent(t, func(ev ztna.Event) bool {
		return ev.Kind == ztna.EventRequest && ev.Path == "/page" && ev.Effect == "deny" && ev.Time.After(start)
	})
	if ev.Subject != "alice" || !strings.Contains(ev.Reason, "no rule allows it") {
		t.Errorf("denied request event = %+v", ev)
	}

	// A device the directory no longer knows gets nothing more on the
	// connection, even between re-decisions of live flows.
	cfg.Devices = append([]ztna.DeviceConfig(nil), w.cfg.Devices...)
	cfg.Devices[0].Disabled = true
	if err := g.Reload(ctx, &cfg); err != nil {
		t.Fatal(err)
	}
	rc.c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(rc.c, "GET /public/news HTTP/1.1\r\nHost: wiki.corp\r\n\r\n")
	if resp, err := http.ReadResponse(rc.br, nil); err == nil && resp.StatusCode == 200 {
		t.Fatal("a disabled device's kept-alive connection still reached the upstream")
	} else if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("connection neither answered nor closed")
		}
	}
}

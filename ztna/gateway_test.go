package ztna_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gonaut/gonaut/policy"
	"github.com/gonaut/gonaut/ztna"
)

func TestTCPAllowedAndDenied(t *testing.T) {
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{echoServer(t)}}}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)

	alice := w.client(t, g, "alice")
	c, err := alice.Dial(ctx, "tcp", "echo.corp:7")
	if err != nil {
		t.Fatalf("alice dial by name: %v", err)
	}
	echoOnce(t, c, "hello through the gateway")
	c.Close()
	flow := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Kind == ztna.EventFlow && ev.Subject == "alice" })
	if flow.BytesIn != 25 || flow.BytesOut != 25 || flow.Rule != "eng-echo" || flow.Device != "alice-laptop" {
		t.Errorf("flow event = %+v, want 25 bytes each way by eng-echo from alice-laptop", flow)
	}

	carol := w.client(t, g, "carol")
	_, err = carol.Dial(ctx, "tcp", "echo.corp:7")
	if !errors.Is(err, syscall.ECONNREFUSED) && (err == nil || !strings.Contains(err.Error(), "refused")) {
		t.Fatalf("carol dial: err = %v, want connection refused", err)
	}
	deny := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Kind == ztna.EventDecision && ev.Subject == "carol" })
	if deny.Effect != "deny" || !strings.Contains(deny.Reason, "denied by policy") {
		t.Errorf("carol's decision = %+v, want a policy deny", deny)
	}
	// A port the resource does not serve is refused without a decision.
	if _, err := alice.Dial(ctx, "tcp", "echo.corp:8"); err == nil {
		t.Error("dial to an unserved port succeeded")
	}
}

func TestDNS(t *testing.T) {
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{
		{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{"127.0.0.1:1"}},
		{Name: "Fixed.Corp", Kind: "tcp", Port: 7, Address: "10.78.9.9", Upstreams: []string{"127.0.0.1:1"}},
	}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)
	alice := w.client(t, g, "alice")
	tun, err := alice.Up(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return tun.Dial(ctx, "udp", g.Address().String()+":53")
	}}
	addrs, err := r.LookupHost(ctx, "echo.corp")
	if err != nil || len(addrs) != 1 || addrs[0] != "10.78.0.1" {
		t.Errorf("echo.corp = %v, %v; want 10.78.0.1", addrs, err)
	}
	addrs, err = r.LookupHost(ctx, "fixed.corp.")
	if err != nil || len(addrs) != 1 || addrs[0] != "10.78.9.9" {
		t.Errorf("fixed.corp = %v, %v; want 10.78.9.9", addrs, err)
	}
	_, err = r.LookupHost(ctx, "nothing.corp")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Errorf("nothing.corp: err = %v, want not found", err)
	}
}

func TestMFAObligation(t *testing.T) {
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "db.corp", Kind: "tcp", Port: 5432, Upstreams: []string{echoServer(t)}}}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)
	if _, err := w.client(t, g, "bob").Dial(ctx, "tcp", "db.corp:5432"); err == nil {
		t.Fatal("bob without MFA reached db.corp")
	}
	ev := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Subject == "bob" && ev.Kind == ztna.EventDecision })
	if ev.Effect != "deny" || !strings.Contains(ev.Reason, "mfa required") || ev.Rule != "eng-db-mfa" {
		t.Errorf("bob's decision = %+v, want mfa required by eng-db-mfa", ev)
	}
	c, err := w.client(t, g, "alice").Dial(ctx, "tcp", "db.corp:5432")
	if err != nil {
		t.Fatalf("alice with MFA: %v", err)
	}
	echoOnce(t, c, "select 1")
	c.Close()
}

// whoami answers with the identity assertion it received, after checking
// it against the gateway's JWKS.
func whoami(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s\n%s", name, r.Method, r.URL.Path, r.Header.Get(ztna.IdentityHeader))
	}
}

func TestHTTPPolicyAndIdentity(t *testing.T) {
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "wiki.corp", Kind: "http", Upstreams: []string{httpServer(t, whoami("wiki"))}}}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)
	alice := w.client(t, g, "alice")
	hc := alice.HTTPClient()
	defer hc.CloseIdleConnections()

	get := func(method, url string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, url, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}

	resp, body := get("GET", "http://wiki.corp/page")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "wiki GET /page\n") {
		t.Fatalf("GET /page = %d %q", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") == "" {
		t.Errorf("security headers missing: %v", resp.Header)
	}
	// The upstream can verify who is calling with the JWKS the gateway
	// serves on its tunnel address.
	_, jwks := get("GET", "http://"+g.Address().String()+ztna.JWKSPath)
	tok := strings.SplitN(body, "\n", 2)[1]
	claims, err := ztna.VerifyAssertion([]byte(jwks), tok, "wiki.corp", time.Now())
	if err != nil {
		t.Fatalf("verify assertion: %v", err)
	}
	if claims.Subject != "alice" || claims.Device != "alice-laptop" || claims.Email != "alice@example.com" || !claims.MFA {
		t.Errorf("claims = %+v", claims)
	}
	if _, err := ztna.VerifyAssertion([]byte(jwks), tok, "other.corp", time.Now()); err == nil {
		t.Error("assertion accepted for another audience")
	}
	if _, err := ztna.VerifyAssertion([]byte(jwks), tok[:len(tok)-4]+"AAAA", "", time.Now()); err == nil {
		t.Error("tampered assertion accepted")
	}

	// Path and method rules, decided per request on the same connection.
	// The refusal says which rule and, in its author's words, what to do.
	if resp, body := get("GET", "http://wiki.corp/admin/users"); resp.StatusCode != http.StatusForbidden ||
		!strings.Contains(body, "rule wiki-no-admin: The wiki's admin pages are for its operators; ask them for what you need") {
		t.Errorf("GET /admin = %d %q, want 403 naming the rule and its description", resp.StatusCode, body)
	}
	if resp, _ := get("POST", "http://wiki.corp/page"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST /page = %d, want 403", resp.StatusCode)
	}
	// A peer cannot forge the identity header.
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://wiki.corp/x", nil)
	req.Header.Set(ztna.IdentityHeader, "forged")
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(b), "forged") {
		t.Error("forged identity header reached the upstream")
	}
	ev := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Kind == ztna.EventRequest && ev.Path == "/admin/users" })
	if ev.Effect != "deny" || ev.Rule != "wiki-no-admin" || ev.Method != "GET" {
		t.Errorf("admin request event = %+v", ev)
	}

	// carol is not in eng: every request is refused.
	cr := w.client(t, g, "carol").HTTPClient()
	defer cr.CloseIdleConnections()
	resp, err = cr.Get("http://wiki.corp/page")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("carol GET = %d, want 403", resp.StatusCode)
	}
}

func TestWebSocketPassThrough(t *testing.T) {
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "want upgrade", 400)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		io.Copy(c, brw) // echo the upgraded stream
	})
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "ws.corp", Kind: "http", Upstreams: []string{httpServer(t, up)}}}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)
	c, err := w.client(t, g, "carol").Dial(ctx, "tcp", "ws.corp:80")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /chat HTTP/1.1\r\nHost: ws.corp\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	io.WriteString(c, "frame-bytes")
	buf := make([]byte, 11)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "frame-bytes" {
		t.Fatalf("upgraded stream: %q, %v", buf, err)
	}
}

func TestRateLimit(t *testing.T) {
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{echoServer(t)}}}
	// A rate so low that no token comes back during the test.
	w.cfg.RateLimits.PerUser = ztna.LimitConfig{FlowsPerSecond: 0.001, Burst: 3, Concurrent: 10}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)
	alice := w.client(t, g, "alice")
	for i := range 3 {
		c, err := alice.Dial(ctx, "tcp", "echo.corp:7")
		if err != nil {
			t.Fatalf("flow %d within the burst: %v", i, err)
		}
		echoOnce(t, c, "x")
		c.Close()
	}
	if _, err := alice.Dial(ctx, "tcp", "echo.corp:7"); err == nil {
		t.Fatal("fourth flow admitted past the burst of 3")
	}
	ev := w.waitEvent(t, func(ev ztna.Event) bool {
		return ev.Kind == ztna.EventDecision && strings.Contains(ev.Reason, "rate limited")
	})
	if ev.Subject != "alice" || ev.Effect != "deny" {
		t.Errorf("rate limit event = %+v", ev)
	}
	// Another user has their own budget.
	c, err := w.client(t, g, "bob").Dial(ctx, "tcp", "echo.corp:7")
	if err != nil {
		t.Fatalf("bob: %v", err)
	}
	c.Close()
}

func TestConcurrencyLimit(t *testing.T) {
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{echoServer(t)}}}
	w.cfg.RateLimits.PerDevice = ztna.LimitConfig{Concurrent: 2}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)
	alice := w.client(t, g, "alice")
	var open []net.Conn
	for range 2 {
		c, err := alice.Dial(ctx, "tcp", "echo.corp:7")
		if err != nil {
			t.Fatal(err)
		}
		echoOnce(t, c, "y")
		open = append(open, c)
	}
	if _, err := alice.Dial(ctx, "tcp", "echo.corp:7"); err == nil {
		t.Fatal("third concurrent flow admitted past the limit of 2")
	}
	open[0].Close()
	// Closing one frees its slot once the gateway has seen the close.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := alice.Dial(ctx, "tcp", "echo.corp:7")
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("slot not freed after a flow closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	open[1].Close()
}

func TestLoadBalancingAndHealthChecks(t *testing.T) {
	healthy := httpServer(t, whoami("A"))
	sick := httpServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			http.Error(w, "sick", 500)
			return
		}
		whoami("B")(w, r)
	}))
	other := httpServer(t, whoami("C"))
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{
		{Name: "lb.corp", Kind: "http", Upstreams: []string{healthy, sick}, HealthCheck: ztna.HealthCheckConfig{Interval: 50 * time.Millisecond, Path: "/healthz"}},
		{Name: "ws.corp", Kind: "http", Upstreams: []string{healthy, other}},
	}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)
	hc := w.client(t, g, "carol").HTTPClient()
	defer hc.CloseIdleConnections()
	count := func(url string, n int) map[string]int {
		seen := map[string]int{}
		for range n {
			req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			seen[strings.Fields(string(b))[0]]++
		}
		return seen
	}
	// Without health checks both upstreams share the load in turn.
	if seen := count("http://ws.corp/", 10); seen["A"] != 5 || seen["C"] != 5 {
		t.Errorf("round robin over two healthy upstreams: %v, want 5 each", seen)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := g.Upstreams("lb.corp")
		if len(st) == 2 && st[0].Healthy && !st[1].Healthy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health checks never marked the sick upstream down: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if seen := count("http://lb.corp/", 10); seen["A"] != 10 {
		t.Errorf("with B failing its health check: %v, want all 10 on A", seen)
	}
}

func TestPassiveEjection(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{dead, echoServer(t)}}}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)
	alice := w.client(t, g, "alice")
	for range 4 {
		c, err := alice.Dial(ctx, "tcp", "echo.corp:7")
		if err != nil {
			t.Fatalf("dial with one dead upstream: %v", err)
		}
		echoOnce(t, c, "z")
		c.Close()
	}
	if st := g.Upstreams("echo.corp"); st[0].Healthy {
		t.Errorf("dead upstream still in rotation: %+v", st)
	}
}

// deadAddr is a loopback address nothing listens on (until a test
// listens there).
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestPassiveEjectionKeepsLastUpstream checks that a failed dial never
// takes a pool's last upstream that is up out of rotation: a resource
// with one upstream (as a connector's service has) is dialled again on
// the next flow, and works as soon as its upstream does, rather than ten
// seconds later.
func TestPassiveEjectionKeepsLastUpstream(t *testing.T) {
	for _, balance := range []string{"", "least_conn"} {
		t.Run("balance="+balance, func(t *testing.T) {
			only, a, b := deadAddr(t), deadAddr(t), deadAddr(t)
			w := newWorld(t)
			w.cfg.Resources = []ztna.ResourceConfig{
				{Name: "lb.corp", Kind: "tcp", Port: 7, Balance: balance, Upstreams: []string{only}},
				{Name: "sink.corp", Kind: "tcp", Port: 7, Balance: balance, Upstreams: []string{a, b}},
			}
			g := w.start(t, nil)
			ctx := testCtx(t, 30*time.Second)
			alice := w.client(t, g, "alice")

			// The only upstream is down (a blip): the flow fails, the
			// upstream stays in rotation.
			if c, err := alice.Dial(ctx, "tcp", "lb.corp:7"); err == nil {
				c.Close()
				t.Fatal("dial to a dead upstream succeeded")
			}
			if st := g.Upstreams("lb.corp"); len(st) != 1 || !st[0].Healthy {
				t.Fatalf("after one failed dial: %+v, want the only upstream still in rotation", st)
			}
			// Back up: the next flow goes through at once.
			echoServerAt(t, only)
			c, err := alice.Dial(ctx, "tcp", "lb.corp:7")
			if err != nil {
				t.Fatalf("dial once the only upstream is back: %v", err)
			}
			echoOnce(t, c, "back")
			c.Close()

			// Both upstreams of a pair fail: one is ejected, the last one
			// stays in rotation and serves as soon as it is back.
			for range 3 {
				if c, err := alice.Dial(ctx, "tcp", "sink.corp:7"); err == nil {
					c.Close()
					t.Fatal("dial to two dead upstreams succeeded")
				}
			}
			st := g.Upstreams("sink.corp")
			var kept string
			for _, u := range st {
				if u.Healthy {
					if kept != "" {
						t.Fatalf("both upstreams still in rotation after failed dials: %+v", st)
					}
					kept = u.Address
				}
			}
			if kept == "" {
				t.Fatalf("every upstream ejected: %+v", st)
			}
			echoServerAt(t, kept)
			c, err = alice.Dial(ctx, "tcp", "sink.corp:7")
			if err != nil {
				t.Fatalf("dial once the kept upstream %s is back: %v", kept, err)
			}
			echoOnce(t, c, "pair back")
			c.Close()
		})
	}
}

func TestRevocationCutsLiveFlow(t *testing.T) {
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{echoServer(t)}}}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)

	cases := []struct {
		name   string
		revoke func(t *testing.T)
	}{
		{"policy replaced", func(t *testing.T) {
			doc, err := policy.Parse("deny.yaml", []byte("rules:\n  - id: nobody\n    effect: allow\n    when: 'false'\n"))
			if err != nil {
				t.Fatal(err)
			}
			set, err := policy.Compile([]*policy.Document{doc}, nil)
			if err != nil {
				t.Fatal(err)
			}
			old := g.Policy().Set()
			g.SetPolicy(ctx, set)
			t.Cleanup(func() { g.SetPolicy(ctx, old) })
		}},
		{"user disabled on reload", func(t *testing.T) {
			cfg := *w.cfg
			cfg.Users = append([]ztna.UserConfig(nil), w.cfg.Users...)
			cfg.Users[0].Disabled = true
			if err := g.Reload(ctx, &cfg); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { g.Reload(ctx, w.cfg) })
		}},
		{"group removed on reload", func(t *testing.T) {
			cfg := *w.cfg
			cfg.Users = append([]ztna.UserConfig(nil), w.cfg.Users...)
			cfg.Users[0].Groups = []string{"sales"}
			if err := g.Reload(ctx, &cfg); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { g.Reload(ctx, w.cfg) })
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			alice := w.client(t, g, "alice")
			c, err := alice.Dial(ctx, "tcp", "echo.corp:7")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			echoOnce(t, c, "before")
			if g.ActiveFlows() != 1 {
				t.Fatalf("active flows = %d, want 1", g.ActiveFlows())
			}
			start := time.Now()
			tc.revoke(t)
			// The gateway cut the flow before the change returned.
			if n := g.ActiveFlows(); n != 0 {
				t.Fatalf("active flows after revocation = %d, want 0", n)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err = c.Read(make([]byte, 1))
			if err == nil {
				t.Fatal("read succeeded on a revoked flow")
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("revoked flow not closed at the peer")
			}
			t.Logf("peer saw the cut %v after the change (%v)", time.Since(start), err)
			ev := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Kind == ztna.EventRevoke && ev.Time.After(start) })
			if ev.Subject != "alice" {
				t.Errorf("revoke event = %+v", ev)
			}
		})
	}
}

func TestRecheckCutsExpiredSession(t *testing.T) {
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{echoServer(t)}}}
	dir := w.cfg.Dir
	pol := "rules:\n  - id: short\n    effect: allow\n    obligations: {max_session: 300ms}\n"
	if err := writeFile(dir+"/short.yaml", pol); err != nil {
		t.Fatal(err)
	}
	w.cfg.Policies = []string{"short.yaml"}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)
	c, err := w.client(t, g, "carol").Dial(ctx, "tcp", "echo.corp:7")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echoOnce(t, c, "a")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("flow outlived its max_session")
	}
	ev := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Kind == ztna.EventRevoke })
	if !strings.Contains(ev.Reason, "max_session") {
		t.Errorf("revoke reason %q", ev.Reason)
	}
}

func TestReloadRejectsBadConfig(t *testing.T) {
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{echoServer(t)}}}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)
	if err := writeFile(w.cfg.Dir+"/broken.yaml", "rules:\n  - id: x\n    effect: allow\n    when: 'subject.nosuchfield'\n"); err != nil {
		t.Fatal(err)
	}
	bad := *w.cfg
	bad.Policies = []string{"broken.yaml"}
	bad.Resources = nil
	if err := g.Reload(ctx, &bad); err == nil {
		t.Fatal("reload with a broken policy succeeded")
	}
	c, err := w.client(t, g, "alice").Dial(ctx, "tcp", "echo.corp:7")
	if err != nil {
		t.Fatalf("running config lost after a bad reload: %v", err)
	}
	echoOnce(t, c, "still here")
	c.Close()

	// A good reload adds a resource, keeping the old one's address.
	before := g.Resources()
	good := *w.cfg
	good.Resources = append([]ztna.ResourceConfig{{Name: "new.corp", Kind: "tcp", Port: 9, Upstreams: []string{"127.0.0.1:9"}}}, w.cfg.Resources...)
	if err := g.Reload(ctx, &good); err != nil {
		t.Fatal(err)
	}
	after := g.Resources()
	if len(after) != 2 || after[1].Address != before[0].Address || after[0].Address == before[0].Address {
		t.Errorf("addresses before %v after %v: want echo.corp kept and new.corp elsewhere", before, after)
	}
}

func TestManyConcurrentFlows(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const n = 1000
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{echoServer(t)}}}
	g := w.start(t, nil)
	ctx := testCtx(t, 120*time.Second)
	alice := w.client(t, g, "alice")
	if _, err := alice.Up(ctx); err != nil {
		t.Fatal(err)
	}
	addr := g.Resources()[0].Address.String() + ":7"
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 64) // a burst of new flows, 64 handshakes at a time
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			c, err := alice.Dial(ctx, "tcp", addr)
			<-sem
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("dial: %v", err)
	}
	// The gateway registers a flow just after the handshake the client
	// saw completes.
	for deadline := time.Now().Add(30 * time.Second); g.ActiveFlows() != n && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if got := g.ActiveFlows(); got != n {
		t.Errorf("active flows = %d, want %d", got, n)
	}
	// Every flow carries data while all are open.
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := fmt.Sprintf("flow-%04d", i)
			c.SetDeadline(time.Now().Add(60 * time.Second))
			io.WriteString(c, msg)
			buf := make([]byte, len(msg))
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
				t.Errorf("flow %d: %q %v", i, buf, err)
			}
		}()
	}
	wg.Wait()
	for _, c := range conns {
		c.Close()
	}
	deadline := time.Now().Add(30 * time.Second)
	for g.ActiveFlows() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := g.ActiveFlows(); got != 0 {
		t.Errorf("active flows after closing all = %d", got)
	}
}

package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
	"github.com/gonaut/gonaut/tunnel"
	"github.com/gonaut/gonaut/ztna"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// e2ePolicy lets engineers reach the echo service and the web app; the
// second version takes the echo service away.
const e2ePolicy = `description: engineers reach the echo service and the web app
rules:
  - id: eng-echo
    effect: allow
    resources: {kind: tcp, names: [echo.corp]}
    when: '"eng" in subject.groups'
  - id: eng-web
    effect: allow
    resources: {kind: http, names: [web.corp]}
    when: '"eng" in subject.groups'
`

var e2ePolicyNoEcho = strings.Replace(e2ePolicy, "names: [echo.corp]", "names: [nothing.corp]", 1)

// managedGateway is a real ztna.Gateway managed by a console: registered
// with a one-time token, its directory, policies and resources from the
// console's bundles, its events spooled to the console.
type managedGateway struct {
	g    *ztna.Gateway
	cp   *controlplane.Client
	cfg  *ztna.Config
	cred controlplane.Credential
	// recorded counts what the gateway handed its audit sink, by
	// kind/resource/effect: the console must store exactly this.
	recMu    sync.Mutex
	recorded map[string]int
}

// countingAudit tees the gateway's events into a count before they go
// to the console.
type countingAudit struct {
	m    *managedGateway
	next ztna.AuditSink
}

func (a *countingAudit) Record(ev *ztna.Event) error {
	kind := ev.Kind
	if kind == ztna.EventRequest {
		kind = ztna.EventDecision
	}
	a.m.recMu.Lock()
	a.m.recorded[kind+"/"+ev.Resource+"/"+ev.Effect]++
	a.m.recMu.Unlock()
	return a.next.Record(ev)
}

func (m *managedGateway) counts() map[string]int {
	m.recMu.Lock()
	defer m.recMu.Unlock()
	out := make(map[string]int, len(m.recorded))
	for k, v := range m.recorded {
		out[k] = v
	}
	return out
}

// startManagedGateway registers a gateway with the console at url and
// starts it with cfg's local resources; each of tune may change its
// configuration first. It stops at cleanup.
func startManagedGateway(t testing.TB, url, token string, resources []ztna.ResourceConfig, tune ...func(*ztna.Config)) *managedGateway {
	t.Helper()
	key, err := tunnel.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ztna.Config{PrivateKey: key.String(), Address: "10.77.0.1/16", Recheck: 100 * time.Millisecond, Dir: t.TempDir(), Resources: resources}
	for _, f := range tune {
		f(cfg)
	}
	tr := &http.Transport{}
	cp, err := controlplane.New(url, &controlplane.Options{
		StateDir: t.TempDir(), HTTPClient: &http.Client{Transport: tr},
		RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m := &managedGateway{cp: cp, cfg: cfg, recorded: map[string]int{}}
	t.Cleanup(func() {
		if m.g != nil {
			m.g.Close()
		}
		cp.Close()
		tr.CloseIdleConnections()
	})
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	defer rcancel()
	if m.cred, err = cp.Register(rctx, token, "edge-e2e"); err != nil {
		t.Fatalf("register: %v", err)
	}
	first, err := cp.Bundle(rctx, 0, 0)
	if err != nil {
		t.Fatalf("first bundle: %v", err)
	}
	m.g, err = ztna.New(ctx, cfg, &ztna.Options{
		Console: &ztna.ConsoleOptions{Client: cp, First: first, Version: "e2e", Heartbeat: 500 * time.Millisecond},
		Audit:   &countingAudit{m: m, next: &ztna.ConsoleAudit{Client: cp}},
	})
	if err != nil {
		t.Fatalf("start with the first bundle: %v", err)
	}
	return m
}

// waitVersion waits until the gateway enforces bundle version v or later.
func (m *managedGateway) waitVersion(t testing.TB, v int64, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for m.g.ConsoleStatus().BundleVersion < v {
		if time.Since(start) > within {
			t.Fatalf("gateway enforces bundle %d, want %d within %v", m.g.ConsoleStatus().BundleVersion, v, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// client is a ztna.Client from a wg-quick config the console printed.
func wgClient(t testing.TB, wgQuick string) *ztna.Client {
	t.Helper()
	tc, err := tunnel.ReadConfig(strings.NewReader(wgQuick))
	if err != nil {
		t.Fatalf("console's wg-quick config: %v\n%s", err, wgQuick)
	}
	c := &ztna.Client{Config: tc}
	t.Cleanup(func() { c.Close() })
	return c
}

// setWireGuard points the console's device enrolment at the gateway, so
// that the wg-quick configs it prints work as they are.
func setWireGuard(t testing.TB, st store.Store, g *ztna.Gateway) {
	t.Helper()
	for k, v := range map[string]string{
		SettingWGPublicKey: g.PublicKey().String(),
		SettingWGEndpoint:  fmt.Sprintf("127.0.0.1:%d", g.ListenPort()),
		SettingWGDNS:       g.Address().String(),
		SettingWGAllowed:   g.Address().String() + "/32, " + g.Config().ResourceRange().String(),
		SettingWGNetwork:   "100.64.0.0/16",
	} {
		if err := st.SetSetting(context.Background(), k, v); err != nil {
			t.Fatal(err)
		}
	}
}

// httpAPI calls the console's REST API over the network, as role.
func (e *env) httpAPI(base string, role domain.Role, method, path string, body any, want int, out any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Authorization", "Bearer "+e.keys[role])
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s as %s: %d %s, want %d", method, path, role, resp.StatusCode, data, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
}

// waitCut waits for a live connection to be cut: a read that fails for
// another reason than its deadline.
func waitCut(t testing.TB, c net.Conn, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(within))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("live flow not cut within %v: %v", within, err)
	}
	return time.Since(start)
}

func echo(t testing.TB, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("echo write: %v", err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo: %q, %v; want %q", buf, err, msg)
	}
}

// loopbackServer serves h or, when h is nil, echoes TCP, on loopback
// until the test ends.
func loopbackServer(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	if h != nil {
		hs := &http.Server{Handler: h}
		wg.Add(1)
		go func() { defer wg.Done(); hs.Serve(ln) }()
		t.Cleanup(func() { hs.Close(); wg.Wait() })
		return ln.Addr().String()
	}
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// auditCounts counts the gateway's entries in the console's audit log by
// kind/resource/effect.
func auditCounts(t testing.TB, st store.Store, gatewayID string) map[string]int {
	t.Helper()
	out := map[string]int{}
	f := store.AuditFilter{Gateway: gatewayID, Limit: 1000}
	for {
		es, err := st.ListAudit(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			out[e.Action+"/"+e.Resource+"/"+e.Effect]++
		}
		if len(es) < 1000 {
			return out
		}
		f.Before = es[len(es)-1].Seq
	}
}

// waitAudit waits until the console's audit log holds exactly what the
// gateway recorded, each event once.
func waitAudit(t testing.TB, st store.Store, m *managedGateway) map[string]int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		want, got := m.counts(), auditCounts(t, st, gatewayID(m.cred))
		if fmt.Sprint(want) == fmt.Sprint(got) {
			return got
		}
		if time.Now().After(deadline) {
			n, _ := m.cp.Pending()
			t.Fatalf("console's audit log has %v\n gateway recorded %v (%d events pending)", got, want, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConsoleAndGatewayEndToEnd runs the real console and a real
// ztna.Gateway managed by it on loopback, with a ztna.Client enrolled in
// the console as a device, on each store backend.
func TestConsoleAndGatewayEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.DB) { consoleGatewayE2E(t, st) })
}

func consoleGatewayE2E(t *testing.T, st *store.DB) {
	e := newEnv(t, st)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := startConsole(t, st, addr)
	base := "http://" + addr

	echoAddr := loopbackServer(t, nil)
	webAddr := loopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "web app: %s for %t", r.URL.Path, r.Header.Get(ztna.IdentityHeader) != "")
	}))

	var u store.User
	e.httpAPI(base, domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "ada@example.com", Role: domain.RoleViewer, Groups: []string{"eng"}, Password: "correct horse battery"}, 201, &u)
	e.httpAPI(base, domain.RolePolicyEditor, "PUT", "/api/v1/policies/access", draft{Source: e2ePolicy, Message: "v1"}, 200, nil)
	// The console's echo.corp clashes with the gateway's own: the
	// gateway's configuration wins, so this bad upstream is never used.
	e.httpAPI(base, domain.RoleOperator, "PUT", "/api/v1/resources/echo.corp", resourceRequest{Kind: "tcp", Address: "127.0.0.1", Port: 1}, 200, nil)
	var gw gatewayCreated
	e.httpAPI(base, domain.RoleOperator, "POST", "/api/v1/gateways", gatewayRequest{Name: "edge-e2e"}, 201, &gw)

	// Registration: the one-time token works once.
	m := startManagedGateway(t, base, gw.Token, []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{echoAddr}}})
	if gatewayID(m.cred) != gw.Gateway.ID {
		t.Fatalf("registered as %q, want %q", gatewayID(m.cred), gw.Gateway.ID)
	}
	other, err := controlplane.New(base, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.Register(context.Background(), gw.Token, "thief")
	other.Close()
	if !errors.Is(err, controlplane.ErrUnauthorized) {
		t.Fatalf("second registration with the same token: %v, want unauthorized", err)
	}
	if ups := m.g.Upstreams("echo.corp"); len(ups) != 1 || ups[0].Address != echoAddr {
		t.Errorf("echo.corp upstreams = %+v, want the configuration's %s", ups, echoAddr)
	}

	// A device enrolled in the console, with the wg-quick config the
	// console prints for it: the gateway's key, DNS and routes come from
	// its status; only where devices reach it is a setting, since the
	// gateway listens on an ephemeral port here and does not know.
	if err := st.SetSetting(context.Background(), SettingWGEndpoint, fmt.Sprintf("127.0.0.1:%d", m.g.ListenPort())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the gateway's status with its public key", func() bool {
		g, err := st.Gateway(context.Background(), gatewayID(m.cred))
		var s controlplane.Status
		return err == nil && json.Unmarshal(g.Status, &s) == nil && s.PublicKey == m.g.PublicKey().String()
	})
	var en Enrolment
	e.httpAPI(base, domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "ada-laptop", Owner: u.ID}, 201, &en)
	ver, _ := st.ConfigVersion(context.Background())
	m.waitVersion(t, ver, 2*time.Second)
	cl := wgClient(t, en.Config)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	conn, err := cl.Dial(ctx, "tcp", "echo.corp:7")
	if err != nil {
		t.Fatalf("dial echo.corp through the console-managed gateway: %v", err)
	}
	defer conn.Close()
	echo(t, conn, "hello through the console's gateway")

	// A resource created in the console becomes reachable.
	if _, err := cl.Dial(ctx, "tcp", "web.corp:80"); err == nil {
		t.Fatal("web.corp reachable before the console created it")
	}
	e.httpAPI(base, domain.RoleOperator, "PUT", "/api/v1/resources/web.corp", resourceRequest{Kind: "http", Address: "127.0.0.1", Port: port(t, webAddr), Labels: map[string]string{"app": "web"}}, 200, nil)
	ver, _ = st.ConfigVersion(context.Background())
	t.Logf("console resource applied by the gateway in %v", m.waitVersion(t, ver, 2*time.Second))
	// Resources assigned to another gateway stay out of this one's bundle.
	e.httpAPI(base, domain.RoleOperator, "PUT", "/api/v1/resources/elsewhere.corp", resourceRequest{Kind: "tcp", Address: "127.0.0.1", Port: 9, Gateway: "edge-other"}, 200, nil)
	e.httpAPI(base, domain.RoleOperator, "PUT", "/api/v1/resources/mine.corp", resourceRequest{Kind: "tcp", Address: "127.0.0.1", Port: 9, Gateway: "edge-e2e"}, 200, nil)
	ver, _ = st.ConfigVersion(context.Background())
	m.waitVersion(t, ver, 2*time.Second)
	served := map[string]bool{}
	for _, r := range m.g.Resources() {
		served[r.Name] = true
	}
	if !served["mine.corp"] || served["elsewhere.corp"] || !served["web.corp"] || !served["echo.corp"] {
		t.Errorf("gateway serves %v; want echo.corp, web.corp and mine.corp, not elsewhere.corp", served)
	}
	hc := cl.HTTPClient()
	defer hc.CloseIdleConnections()
	body := httpGet(t, ctx, hc, "http://web.corp/hello")
	if body != "web app: /hello for true" {
		t.Errorf("web.corp answered %q", body)
	}

	// A policy saved in the console (a new version) reaches the running
	// gateway and cuts the echo flow it no longer allows.
	start := time.Now()
	e.httpAPI(base, domain.RolePolicyEditor, "PUT", "/api/v1/policies/access", draft{Source: e2ePolicyNoEcho, Message: "v2: no echo"}, 200, nil)
	cut := waitCut(t, conn, 2*time.Second)
	t.Logf("policy v2 saved: live flow cut %v after the save returned (%v in all)", cut, time.Since(start))
	if c, err := cl.Dial(ctx, "tcp", "echo.corp:7"); err == nil {
		c.Close()
		t.Error("echo.corp dialled under policy v2")
	}
	e.httpAPI(base, domain.RolePolicyEditor, "PUT", "/api/v1/policies/access", draft{Source: e2ePolicy, Message: "v3: echo again"}, 200, nil)
	ver, _ = st.ConfigVersion(context.Background())
	m.waitVersion(t, ver, 2*time.Second)
	conn2, err := cl.Dial(ctx, "tcp", "echo.corp:7")
	if err != nil {
		t.Fatalf("echo.corp under policy v3: %v", err)
	}
	echo(t, conn2, "allowed again")
	conn2.Close()

	// Every decision and closed flow so far is in the audit log, once.
	got := waitAudit(t, st, m)
	if got["decision/echo.corp/allow"] < 2 || got["decision/echo.corp/deny"] < 1 || got["flow/echo.corp/"]+got["flow/echo.corp/allow"] < 1 {
		t.Errorf("audit log lacks the expected decisions and flows: %v", got)
	}

	// The console is killed; the gateway keeps enforcing the last bundle
	// and spools its events.
	c.stop()
	conn3, err := cl.Dial(ctx, "tcp", "echo.corp:7")
	if err != nil {
		t.Fatalf("echo.corp while the console is down: %v", err)
	}
	echo(t, conn3, "console down, gateway up")
	if body := httpGet(t, ctx, hc, "http://web.corp/down"); body != "web app: /down for true" {
		t.Errorf("web.corp while the console is down: %q", body)
	}
	if c, err := cl.Dial(ctx, "tcp", "mystery.corp:7"); err == nil {
		c.Close()
		t.Error("an unknown resource was reachable")
	}
	waitFor(t, 10*time.Second, "events spooled while the console is down", func() bool {
		n, _ := m.cp.Pending()
		return n >= 2
	})
	pending, _ := m.cp.Pending()

	// Restarted on the same store: every spooled event arrives once.
	startConsole(t, st, addr)
	got = waitAudit(t, st, m)
	waitFor(t, 10*time.Second, "spool drained", func() bool { n, _ := m.cp.Pending(); return n == 0 })
	t.Logf("console restarted: %d spooled events delivered; audit log has %v", pending, got)

	// The gateway follows the restarted console: a device disabled there
	// cuts the live flow within 2 s.
	disabled := true
	start = time.Now()
	e.httpAPI(base, domain.RoleOperator, "PATCH", "/api/v1/devices/"+en.Device.ID, devicePatch{Disabled: &disabled}, 200, nil)
	cut = waitCut(t, conn3, 2*time.Second)
	t.Logf("device disabled: live flow cut %v after the change returned (%v in all)", cut, time.Since(start))
	if c, err := cl.Dial(ctx, "tcp", "echo.corp:7"); err == nil {
		c.Close()
		t.Error("disabled device dialled echo.corp")
	}
	conn3.Close()
	waitAudit(t, st, m)
	if rep, err := st.VerifyAudit(ctx); err != nil || !rep.OK {
		t.Errorf("audit chain: %+v, %v", rep, err)
	}
	// The heartbeat reports the bundle the gateway enforces.
	ver, _ = st.ConfigVersion(ctx)
	waitFor(t, 5*time.Second, "heartbeat with the current bundle version", func() bool {
		g, err := st.Gateway(ctx, gatewayID(m.cred))
		return err == nil && g.BundleVersion == ver
	})
}

func port(t testing.TB, hostport string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(p, &n)
	return n
}

func httpGet(t testing.TB, ctx context.Context, hc *http.Client, url string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, data)
	}
	return string(data)
}

func waitFor(t testing.TB, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listeningConsole serves a console on st at a free loopback address
// until cleanup and returns its test environment and base URL.
// With st nil, the environment's own SQLite store serves.
func listeningConsole(t testing.TB, st *store.DB) (*env, string) {
	t.Helper()
	e := newEnv(t, st)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	startConsole(t, e.st, addr)
	return e, "http://" + addr
}

// enrolThroughGateway points enrolment at m, waits for m's status, enrols
// a device for owner over the API and waits until m enforces it; it
// returns the enrolment and a client with the wg-quick config the console
// printed.
func enrolThroughGateway(t testing.TB, e *env, st *store.DB, base string, m *managedGateway, name, owner string) (*Enrolment, *ztna.Client) {
	t.Helper()
	if err := st.SetSetting(context.Background(), SettingWGEndpoint, fmt.Sprintf("127.0.0.1:%d", m.g.ListenPort())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the gateway's status with its public key", func() bool {
		g, err := st.Gateway(context.Background(), gatewayID(m.cred))
		var s controlplane.Status
		return err == nil && json.Unmarshal(g.Status, &s) == nil && s.PublicKey == m.g.PublicKey().String()
	})
	var en Enrolment
	e.httpAPI(base, domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: name, Owner: owner}, 201, &en)
	ver, _ := st.ConfigVersion(context.Background())
	m.waitVersion(t, ver, 5*time.Second)
	return &en, wgClient(t, en.Config)
}

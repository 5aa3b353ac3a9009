package ztna_test

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonaut/gonaut/tunnel"
	"github.com/gonaut/gonaut/ztna"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// cpConsole serves the control-plane protocol for one gateway: bundles by
// long poll and an events log. The real console cannot be imported here
// (it lives under apps/console/internal), so this stand-in speaks the same
// /cp/v1/ protocol over loopback; the console's own tests check the
// client against the real server.
type cpConsole struct {
	mu      sync.Mutex
	bundle  controlplane.Bundle
	changed chan struct{}
	events  []controlplane.Event
	seen    map[string]bool
	status  controlplane.Status // the last heartbeat
}

func (f *cpConsole) set(mutate func(b *controlplane.Bundle)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	mutate(&f.bundle)
	f.bundle.Version++
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *cpConsole) audit() []controlplane.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]controlplane.Event(nil), f.events...)
}

func (f *cpConsole) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/cp/v1/register" && r.Header.Get("Authorization") != "Bearer gw_1.secret" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	switch r.URL.Path {
	case "/cp/v1/register":
		var req controlplane.RegisterRequest
		json.NewDecoder(r.Body).Decode(&req)
		if req.Token != "tok" {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(controlplane.Error{Status: 401, Code: "unauthorized", Message: "bad token"})
			return
		}
		json.NewEncoder(w).Encode(controlplane.Credential{GatewayID: "gw_1", Secret: "secret"})
	case "/cp/v1/bundle":
		after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
		timer := time.NewTimer(wait)
		defer timer.Stop()
		for {
			f.mu.Lock()
			b, ch := f.bundle, f.changed
			f.mu.Unlock()
			if b.Version > after {
				json.NewEncoder(w).Encode(b)
				return
			}
			select {
			case <-ch:
			case <-timer.C:
				w.WriteHeader(http.StatusNoContent)
				return
			case <-r.Context().Done():
				return
			}
		}
	case "/cp/v1/events":
		var b controlplane.EventBatch
		json.NewDecoder(r.Body).Decode(&b)
		f.mu.Lock()
		var ack controlplane.EventAck
		for _, e := range b.Events {
			if f.seen[e.ID] {
				ack.Duplicates++
				continue
			}
			f.seen[e.ID] = true
			f.events = append(f.events, e)
			ack.Accepted++
		}
		f.mu.Unlock()
		json.NewEncoder(w).Encode(ack)
	case "/cp/v1/status":
		var st controlplane.Status
		json.NewDecoder(r.Body).Decode(&st)
		f.mu.Lock()
		f.status = st
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

// TestConsoleManagedGateway runs a gateway whose directory, policies and
// audit trail are the console's: the bundle's device reaches a resource
// through the tunnel, the decision lands in the console's audit log, and
// disabling the device in the console cuts it within 2 s.
func TestConsoleManagedGateway(t *testing.T) {
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{echoServer(t)}}}
	w.cfg.Policies = nil
	w.cfg.Users, w.cfg.Devices = nil, nil
	pol, err := os.ReadFile("testdata/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	alice := w.devices["alice"]
	fc := &cpConsole{changed: make(chan struct{}), seen: map[string]bool{}}
	fc.set(func(b *controlplane.Bundle) {
		b.Policies = []controlplane.Policy{{Name: "policy.yaml", Version: 1, Source: string(pol)}}
		b.Users = []controlplane.Identity{{ID: "alice", Email: "alice@example.com", Groups: []string{"eng"}}}
		b.Devices = []controlplane.Device{{ID: alice.id, Name: "laptop", Owner: "alice", PublicKey: alice.key.PublicKey().String(), Address: alice.addr.String() + "/32"}}
	})
	hs := httptest.NewServer(fc)
	t.Cleanup(hs.Close)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)

	cp, err := controlplane.New(hs.URL, &controlplane.Options{StateDir: t.TempDir(), HTTPClient: &http.Client{Transport: tr}, RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cp.Close() })
	ctx := testCtx(t, 60*time.Second)
	if _, err := cp.Register(ctx, "tok", "gw-test"); err != nil {
		t.Fatal(err)
	}

	first, err := cp.Bundle(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The console client is all the gateway is given: it applies the
	// first bundle, follows the console and sends it its events.
	g := w.start(t, &ztna.Options{Console: &ztna.ConsoleOptions{Client: cp, First: first, Version: "test", Applied: func(b *controlplane.Bundle, err error) {
		if err != nil {
			t.Errorf("apply bundle %d: %v", b.Version, err)
		}
	}}})

	c, err := w.client(t, g, "alice").Dial(ctx, "tcp", "echo.corp:7")
	if err != nil {
		t.Fatalf("dial through the console-managed gateway: %v", err)
	}
	defer c.Close()
	echoOnce(t, c, "via the console")

	deadline := time.Now().Add(10 * time.Second)
	var decision *controlplane.Event
	for decision == nil && time.Now().Before(deadline) {
		for _, e := range fc.audit() {
			if e.Kind == "decision" && e.Subject == "alice" {
				decision = &e
				break
			}
		}
		if decision == nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if decision == nil {
		t.Fatalf("no decision in the console's audit log; have %+v", fc.audit())
	}
	if decision.Effect != "allow" || decision.Rule != "eng-echo" || decision.Device != alice.id || decision.Resource != "echo.corp" {
		t.Errorf("decision = %+v, want alice allowed by eng-echo on echo.corp", *decision)
	}

	// A reload of the config file (which has no policies) keeps the
	// console's policies: the live flow stays.
	if err := g.Reload(ctx, w.cfg); err != nil {
		t.Fatal(err)
	}
	if n := g.ActiveFlows(); n != 1 {
		t.Fatalf("active flows after a config reload = %d, want 1", n)
	}
	echoOnce(t, c, "after reload")

	start := time.Now()
	fc.set(func(b *controlplane.Bundle) { b.Devices[0].Disabled = true })
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("flow not cut within 2 s of disabling the device: %v", err)
	}
	t.Logf("device disabled in the console: flow cut after %v (%v)", time.Since(start), err)
	// The flow is cut while the bundle is applied; the version is
	// reported once the whole bundle is in place, just after.
	for deadline := time.Now().Add(2 * time.Second); g.ConsoleStatus().BundleVersion != 2 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if v := g.ConsoleStatus().BundleVersion; v != 2 {
		t.Errorf("directory version = %d, want 2", v)
	}
	if _, err := w.client(t, g, "alice").Dial(ctx, "tcp", "echo.corp:7"); err == nil {
		t.Error("disabled device opened a new flow")
	}
	// The heartbeat after the applied bundle reports its version and
	// what a device's config needs.
	deadline = time.Now().Add(5 * time.Second)
	for {
		fc.mu.Lock()
		st := fc.status
		fc.mu.Unlock()
		if st.BundleVersion == 2 {
			if st.Version != "test" || st.PublicKey != g.PublicKey().String() || st.DNS != g.Address().String() || len(st.Routes) < 2 {
				t.Errorf("status = %+v", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no heartbeat with bundle 2; last %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConsoleBundleResources checks that a bundle's tcp and http
// resources are served next to the configuration's: the configuration
// wins on a name clash, kinds a console cannot configure are skipped
// without refusing the bundle, a reload of the file keeps them, and a
// resource removed in the console cuts its live flows.
func TestConsoleBundleResources(t *testing.T) {
	w := newWorld(t)
	local := echoServer(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{local}}}
	w.cfg.Policies = nil
	pol, err := os.ReadFile("testdata/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	alice := w.devices["alice"]
	_, lbPort, _ := net.SplitHostPort(echoServer(t))
	p, _ := strconv.Atoi(lbPort)
	b := &controlplane.Bundle{
		Version:  1,
		Policies: []controlplane.Policy{{Name: "policy.yaml", Version: 1, Source: string(pol)}},
		Users:    []controlplane.Identity{{ID: "alice", Email: "alice@example.com", Groups: []string{"eng"}}},
		Devices:  []controlplane.Device{{ID: alice.id, Owner: "alice", PublicKey: alice.key.PublicKey().String(), Address: alice.addr.String()}},
		Resources: []controlplane.Resource{
			{Name: "ECHO.corp", Kind: "tcp", Address: "127.0.0.1", Port: 1}, // the file's echo.corp wins
			{Name: "lb.corp", Kind: "tcp", Address: "127.0.0.1", Port: p, Labels: map[string]string{"env": "lab"}},
			{Name: "plc.corp", Kind: "serial", Address: "/dev/ttyUSB0"},
			{Name: "dns.corp", Kind: "udp", Address: "127.0.0.1", Port: 53},
			{Name: "broken.corp", Kind: "tcp", Address: "", Port: 0},
			{Name: "bad name!", Kind: "http", Address: "127.0.0.1", Port: 80},
		},
	}
	g := w.start(t, &ztna.Options{Console: &ztna.ConsoleOptions{}})
	ctx := testCtx(t, 60*time.Second)
	if err := g.ApplyBundle(ctx, b); err != nil {
		t.Fatalf("a bundle with resources the gateway cannot serve was refused: %v", err)
	}
	names := func() map[string]ztna.ResourceInfo {
		m := map[string]ztna.ResourceInfo{}
		for _, r := range g.Resources() {
			m[r.Name] = r
		}
		return m
	}
	rs := names()
	if len(rs) != 2 || rs["echo.corp"].Name == "" || rs["lb.corp"].Port != p {
		t.Fatalf("resources = %+v, want the file's echo.corp and the console's lb.corp on port %d", rs, p)
	}
	if ups := g.Upstreams("echo.corp"); len(ups) != 1 || ups[0].Address != local {
		t.Errorf("echo.corp upstreams = %+v, want the file's %s", ups, local)
	}
	cl := w.client(t, g, "alice")
	lb, err := cl.Dial(ctx, "tcp", "lb.corp:"+lbPort)
	if err != nil {
		t.Fatalf("dial the console's resource: %v", err)
	}
	defer lb.Close()
	echoOnce(t, lb, "console resource")

	// A reload of the file keeps the console's resources, at the same
	// address, and the live flow.
	if err := g.Reload(ctx, w.cfg); err != nil {
		t.Fatal(err)
	}
	if r := names()["lb.corp"]; r.Address != rs["lb.corp"].Address {
		t.Errorf("lb.corp after reload = %+v, want it kept at %s", r, rs["lb.corp"].Address)
	}
	echoOnce(t, lb, "after reload")

	// The console removes lb.corp: its live flow is cut.
	b2 := *b
	b2.Version = 2
	b2.Resources = b.Resources[:1]
	if err := g.ApplyBundle(ctx, &b2); err != nil {
		t.Fatal(err)
	}
	if _, ok := names()["lb.corp"]; ok {
		t.Error("lb.corp still served after the console removed it")
	}
	lb.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := lb.Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
		t.Errorf("live flow to a removed resource not cut: %v", err)
	}
	c, err := cl.Dial(ctx, "tcp", "echo.corp:7")
	if err != nil {
		t.Fatal(err)
	}
	echoOnce(t, c, "the file's resource stays")
	c.Close()
}

// TestConsoleBundlePeers sends the gateway console bundles that give two
// devices one tunnel address, the way duplicated enrolments did. A bundle
// in which two devices overlap is refused whole with an error naming both
// keys, and the enforced bundle stays; a later bundle that has removed
// the first device and given its address to another applies at once, and
// the address's flows are the new holder's. Before the fix the refused
// bundle left the removed device in the tunnel, so every later bundle
// failed on the overlap with it.
func TestConsoleBundlePeers(t *testing.T) {
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{echoServer(t)}}}
	w.cfg.Policies = nil
	w.cfg.Users, w.cfg.Devices = nil, nil
	pol, err := os.ReadFile("testdata/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bob, carol := w.devices["bob"], w.devices["carol"]
	x := bob.addr.String() + "/32" // the address carol's device had, then bob's
	bundle := func(version int64, devs ...controlplane.Device) *controlplane.Bundle {
		return &controlplane.Bundle{
			Version:  version,
			Policies: []controlplane.Policy{{Name: "policy.yaml", Version: 1, Source: string(pol)}},
			Users: []controlplane.Identity{
				{ID: "bob", Email: "bob@example.com", Groups: []string{"eng"}},
				{ID: "carol", Email: "carol@example.com", Groups: []string{"sales"}},
			},
			Devices: devs,
		}
	}
	carolAtX := controlplane.Device{ID: carol.id, Name: "laptop", Owner: "carol", PublicKey: carol.key.PublicKey().String(), Address: x}
	bobAtX := controlplane.Device{ID: bob.id, Name: "laptop", Owner: "bob", PublicKey: bob.key.PublicKey().String(), Address: x}

	g := w.start(t, &ztna.Options{Console: &ztna.ConsoleOptions{}})
	ctx := testCtx(t, 60*time.Second)
	if err := g.ApplyBundle(ctx, bundle(1, carolAtX)); err != nil {
		t.Fatal(err)
	}

	err = g.ApplyBundle(ctx, bundle(2, carolAtX, bobAtX))
	if !errors.Is(err, tunnel.ErrInvalidConfig) || !strings.Contains(err.Error(), bobAtX.PublicKey) || !strings.Contains(err.Error(), carolAtX.PublicKey) {
		t.Fatalf("bundle with two devices at %s: err = %v, want an overlap naming both keys", x, err)
	}
	if v := g.ConsoleStatus().BundleVersion; v != 1 {
		t.Errorf("enforced version after a refused bundle = %d, want 1", v)
	}
	if k, _ := g.Tunnel().WhoIs(bob.addr); k != carol.key.PublicKey() {
		t.Errorf("after a refused bundle %s belongs to %v, want carol's device still", x, k)
	}

	// The console deletes carol's device and gives its address to bob's.
	if err := g.ApplyBundle(ctx, bundle(3, bobAtX)); err != nil {
		t.Fatalf("bundle moving %s to a new device: %v", x, err)
	}
	if k, _ := g.Tunnel().WhoIs(bob.addr); k != bob.key.PublicKey() {
		t.Errorf("%s belongs to %v, want bob's device", x, k)
	}
	c, err := w.client(t, g, "bob").Dial(ctx, "tcp", "echo.corp:7")
	if err != nil {
		t.Fatalf("bob's device at the moved address: %v", err)
	}
	defer c.Close()
	echoOnce(t, c, "at the moved address")
}

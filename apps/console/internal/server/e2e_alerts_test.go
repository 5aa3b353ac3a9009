package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/analytics"
	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
	"github.com/gonaut/gonaut/ztna"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// TestGatewayAlertsReachConsole runs the real console and a real
// console-managed ztna.Gateway with analytics on, on each store backend:
// denied flows make the gateway's denial burst detector fire, and the
// alert reaches the console's alert list once, with its evidence, while
// the gateway's risk score for the user becomes the console's.
func TestGatewayAlertsReachConsole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.DB) { gatewayAlertsE2E(t, st) })
}

func gatewayAlertsE2E(t *testing.T, st *store.DB) {
	e, base := listeningConsole(t, st)
	echoAddr := loopbackServer(t, nil)
	// A console tcp resource is served on its upstream's port.
	echoTarget, vaultTarget := "echo.corp:"+fmt.Sprint(port(t, echoAddr)), "vault.corp:"+fmt.Sprint(port(t, echoAddr))

	var u store.User
	e.httpAPI(base, domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "bob@example.com", Role: domain.RoleViewer, Groups: []string{"eng"}, Password: "correct horse battery"}, 201, &u)
	e.httpAPI(base, domain.RolePolicyEditor, "PUT", "/api/v1/policies/access", draft{Source: e2ePolicy, Message: "v1"}, 200, nil)
	e.httpAPI(base, domain.RoleOperator, "PUT", "/api/v1/resources/echo.corp", resourceRequest{Kind: "tcp", Address: echoAddr}, 200, nil)
	// No policy lets anyone reach the vault: every dial is denied.
	e.httpAPI(base, domain.RoleOperator, "PUT", "/api/v1/resources/vault.corp", resourceRequest{Kind: "tcp", Address: echoAddr}, 200, nil)
	var gw gatewayCreated
	e.httpAPI(base, domain.RoleOperator, "POST", "/api/v1/gateways", gatewayRequest{Name: "edge-risk"}, 201, &gw)
	m := startManagedGateway(t, base, gw.Token, nil, func(c *ztna.Config) { c.Analytics.Enabled = true })

	if err := st.SetSetting(context.Background(), SettingWGEndpoint, fmt.Sprintf("127.0.0.1:%d", m.g.ListenPort())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the gateway's status with its public key", func() bool {
		g, err := st.Gateway(context.Background(), gatewayID(m.cred))
		var s controlplane.Status
		return err == nil && json.Unmarshal(g.Status, &s) == nil && s.PublicKey == m.g.PublicKey().String()
	})
	var en Enrolment
	e.httpAPI(base, domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "bob-laptop", Owner: u.ID}, 201, &en)
	ver, _ := st.ConfigVersion(context.Background())
	m.waitVersion(t, ver, 5*time.Second)
	cl := wgClient(t, en.Config)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// Analytics learns of the user from an allowed flow first.
	conn, err := cl.Dial(ctx, "tcp", echoTarget)
	if err != nil {
		t.Fatalf("dial echo.corp: %v", err)
	}
	echo(t, conn, "hello")
	conn.Close()
	waitFor(t, 10*time.Second, "the allowed decision in the console's audit log", func() bool {
		return auditCounts(t, st, gatewayID(m.cred))["decision/echo.corp/allow"] > 0
	})
	for i := range 12 {
		if c, err := cl.Dial(ctx, "tcp", vaultTarget); err == nil {
			c.Close()
			t.Fatalf("denial %d: vault.corp admitted", i)
		}
	}

	// The alert arrives in the console's alert list, with its evidence.
	var alerts page[store.Alert]
	waitFor(t, 20*time.Second, "a denial_burst alert in /api/v1/alerts", func() bool {
		e.httpAPI(base, domain.RoleViewer, "GET", "/api/v1/alerts?limit=500", nil, 200, &alerts)
		for _, a := range alerts.Items {
			if a.Kind == "denial_burst" {
				return true
			}
		}
		return false
	})
	// Every alert event the gateway recorded is in the audit log and in
	// the alert list exactly once (the spool drained first, so nothing is
	// in flight).
	waitFor(t, 20*time.Second, "spool drained", func() bool { n, _ := m.cp.Pending(); return n == 0 })
	audit := waitAudit(t, st, m)
	e.httpAPI(base, domain.RoleViewer, "GET", "/api/v1/alerts?limit=500", nil, 200, &alerts)
	if sent := m.counts()["alert//"]; sent == 0 || len(alerts.Items) != sent || audit["alert//"] != sent {
		t.Fatalf("gateway sent %d alerts; console alert list has %d, audit log %d: %+v", sent, len(alerts.Items), audit["alert//"], alerts.Items)
	}
	var burst *store.Alert
	for i, a := range alerts.Items {
		if a.Kind == "denial_burst" {
			if burst != nil {
				t.Fatalf("two denial_burst alerts: %+v", alerts.Items)
			}
			burst = &alerts.Items[i]
		}
	}
	var ev map[string]any
	if burst.Subject != u.ID || burst.State != "open" || burst.Severity == "" || json.Unmarshal(burst.Evidence, &ev) != nil || len(ev) == 0 {
		t.Fatalf("alert = %+v (evidence %s); want bob's open alert with evidence", burst, burst.Evidence)
	}
	t.Logf("alert: %s %s %q evidence %s", burst.Kind, burst.Severity, burst.Message, burst.Evidence)
	// It can be acknowledged like any console alert.
	e.httpAPI(base, domain.RoleOperator, "POST", "/api/v1/alerts/"+burst.ID+"/state", map[string]string{"state": "acknowledged"}, 204, nil)
	var acked store.Alert
	e.httpAPI(base, domain.RoleViewer, "GET", "/api/v1/alerts/"+burst.ID, nil, 200, &acked)
	if acked.State != "acknowledged" {
		t.Errorf("alert state after acknowledge = %q", acked.State)
	}

	// The gateway's score for the user is the console's.
	var gwScore int
	for _, r := range m.g.Risks() {
		if r.Subject == u.ID {
			gwScore = r.Score
		}
	}
	if gwScore == 0 {
		t.Fatalf("gateway risks = %+v; want a score for %s", m.g.Risks(), u.ID)
	}
	var risks page[UserRisk]
	waitFor(t, 10*time.Second, "the gateway's score in /api/v1/analytics/risk", func() bool {
		e.httpAPI(base, domain.RoleViewer, "GET", "/api/v1/analytics/risk", nil, 200, &risks)
		for _, r := range risks.Items {
			if r.Subject == u.ID {
				return r.ScoreFrom == "gateway" && r.Score == gwScore && r.GatewayScore == gwScore && r.Gateway == "edge-risk"
			}
		}
		return false
	})
	t.Logf("risk: %+v", risks.Items)
	for _, r := range risks.Items {
		if r.Subject == u.ID && (len(r.Signals) == 0 || r.Signals[0] != "denial_burst") {
			t.Errorf("signals = %v, want the gateway's denial_burst", r.Signals)
		}
	}
}

// TestGatewayAlertRedelivered posts one gateway's alert event twice, as a
// gateway does when the console's answer to a stored batch is lost: the
// console stores one alert and one audit entry, on each store backend.
func TestGatewayAlertRedelivered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.DB) { gatewayAlertRedelivered(t, st) })
}

func gatewayAlertRedelivered(t *testing.T, st *store.DB) {
	e := newEnv(t, st)
	var gw gatewayCreated
	e.call(domain.RoleOperator, "POST", "/api/v1/gateways", gatewayRequest{Name: "edge-dup"}, &gw)
	var cred controlplane.Credential
	e.gatewayCall("", "POST", "/cp/v1/register", controlplane.RegisterRequest{Token: gw.Token, Name: "edge-dup"}, http.StatusOK, &cred)
	var carol store.User
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "carol@example.com", Role: domain.RoleViewer, Password: "correct horse battery"}, 201, &carol)
	batch := controlplane.EventBatch{Events: []controlplane.Event{{
		ID: controlplane.NewEventID(), Time: time.Now().UTC(), Kind: "alert", Subject: carol.ID, Message: "12 denials in 60s",
		Alert: &controlplane.Alert{Detector: "denial_burst", Severity: "high", Score: 53, Evidence: json.RawMessage(`{"denials":12}`)},
	}, {
		// An alert of an unknown severity stays in the audit log only.
		ID: controlplane.NewEventID(), Time: time.Now().UTC(), Kind: "alert", Subject: carol.ID,
		Alert: &controlplane.Alert{Detector: "denial_burst", Severity: "apocalyptic"},
	}}}
	for i, want := range []controlplane.EventAck{{Accepted: 2}, {Duplicates: 2}} {
		var ack controlplane.EventAck
		e.gatewayCall(cred.Bearer(), "POST", "/cp/v1/events", batch, http.StatusOK, &ack)
		if ack.Accepted != want.Accepted || ack.Duplicates != want.Duplicates || len(ack.Rejected) != 0 {
			t.Errorf("delivery %d: ack %+v, want %+v", i, ack, want)
		}
	}
	as, err := e.st.ListAlerts(context.Background(), "", store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 1 || as[0].Kind != "denial_burst" || as[0].Severity != "high" || as[0].Subject != carol.ID || string(as[0].Evidence) != `{"denials":12}` {
		t.Fatalf("alerts = %+v, want the one denial_burst alert", as)
	}
}

// gatewayCall makes one control-plane request with a gateway's bearer
// ("" for none) and decodes the JSON answer into out.
func (e *env) gatewayCall(bearer, method, path string, body any, want int, out any) {
	e.t.Helper()
	data, _ := json.Marshal(body)
	req := httptest.NewRequest(method, path, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", bearer)
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, req)
	if w.Code != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, w.Code, w.Body.String(), want)
	}
	if out != nil {
		if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, w.Body.String())
		}
	}
}

// TestRiskCombinesGateways checks how the console combines risk: the
// highest score a live gateway reports wins; a stale or revoked gateway's
// report is ignored; a user no live gateway reports gets the console's
// score from its stored alerts.
func TestRiskCombinesGateways(t *testing.T) {
	e := newEnv(t, nil)
	now := time.Now().UTC()
	report := func(name string, seen time.Time, revoke bool, risks ...controlplane.SubjectRisk) {
		g := &store.Gateway{Name: name, TokenHash: tokenHash(randomToken())}
		if err := e.st.CreateGateway(bg, g); err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(controlplane.Status{Time: seen, Risk: risks})
		if err := e.st.UpdateGatewayStatus(bg, g.ID, seen, 1, data); err != nil {
			t.Fatal(err)
		}
		if revoke {
			if err := e.st.RevokeGateway(bg, g.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	report("edge-a", now, false, controlplane.SubjectRisk{Subject: "u_ann", Score: 40, Signals: []string{"denial_burst"}}, controlplane.SubjectRisk{Subject: "u_ben", Score: 12, Signals: []string{"rate_spike"}})
	report("edge-b", now.Add(-30*time.Second), false, controlplane.SubjectRisk{Subject: "u_ann", Score: 61, Signals: []string{"impossible_travel"}})
	report("edge-stale", now.Add(-10*time.Minute), false, controlplane.SubjectRisk{Subject: "u_cat", Score: 90})
	report("edge-revoked", now, true, controlplane.SubjectRisk{Subject: "u_ben", Score: 95})
	// u_cat's only report is stale: the console's own score counts.
	if err := e.st.CreateAlert(bg, &store.Alert{Time: now, Severity: "high", Kind: "new_device", Subject: "u_cat", Message: "x"}); err != nil {
		t.Fatal(err)
	}
	var risks page[UserRisk]
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/analytics/risk", nil, 200, &risks)
	got := map[string]UserRisk{}
	for _, r := range risks.Items {
		got[r.Subject] = r
	}
	want := map[string]struct {
		score   int
		from    string
		gateway string
		signal  string
	}{
		"u_ann": {61, "gateway", "edge-b", "impossible_travel"},
		"u_ben": {12, "gateway", "edge-a", "rate_spike"},
		"u_cat": {analytics.RiskScore(45), "console", "", "new_device"},
	}
	for subj, w := range want {
		r := got[subj]
		if r.Score != w.score || r.ScoreFrom != w.from || r.Gateway != w.gateway || len(r.Signals) != 1 || r.Signals[0] != w.signal {
			t.Errorf("%s: %+v, want score %d from %s (%q) with signal %s", subj, r, w.score, w.from, w.gateway, w.signal)
		}
	}
	if len(risks.Items) != 3 || risks.Items[0].Subject != "u_ann" {
		t.Errorf("risk list = %+v, want u_ann first of 3", risks.Items)
	}
	// The analytics page says where each score comes from.
	if code, body := e.page(domain.RoleViewer, "/analytics"); code != 200 || !strings.Contains(body, "<td>gateway edge-b</td>") || !strings.Contains(body, "<td>console</td>") {
		t.Errorf("analytics page: %d, lacks the scores' sources", code)
	}
}

package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// gatewayHTTP is a registered gateway speaking to a console over the
// network with nothing but its credential, as an attacker holding that
// credential would.
type gatewayHTTP struct {
	t      testing.TB
	base   string
	bearer string
	id     string
}

// registerGatewayHTTP adds a gateway named name through the API and
// registers it over base.
func registerGatewayHTTP(t testing.TB, e *env, base, name string) *gatewayHTTP {
	t.Helper()
	var created gatewayCreated
	e.httpAPI(base, domain.RoleOperator, "POST", "/api/v1/gateways", gatewayRequest{Name: name}, 201, &created)
	g := &gatewayHTTP{t: t, base: base}
	var cred controlplane.Credential
	if code, body := g.post("/cp/v1/register", controlplane.RegisterRequest{Token: created.Token, Name: name}); code != 200 || json.Unmarshal(body, &cred) != nil {
		t.Fatalf("register: %d %s", code, body)
	}
	g.bearer, g.id = cred.Bearer(), gatewayID(cred)
	return g
}

// post sends body (a value to marshal, or raw JSON bytes) with the
// gateway's credential and returns the status and the answer.
func (g *gatewayHTTP) post(path string, body any) (int, []byte) {
	g.t.Helper()
	data, ok := body.([]byte)
	if !ok {
		data, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest("POST", g.base+path, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	if g.bearer != "" {
		req.Header.Set("Authorization", g.bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// events posts a batch as raw JSON and returns the console's ack.
func (g *gatewayHTTP) events(raw []byte) controlplane.EventAck {
	g.t.Helper()
	code, body := g.post("/cp/v1/events", raw)
	var ack controlplane.EventAck
	if code != 200 || json.Unmarshal(body, &ack) != nil {
		g.t.Fatalf("events: %d %s", code, body)
	}
	return ack
}

// TestGatewayCannotForgeConsoleEvents performs, with one gateway's
// credential over the control-plane API, what a review did with one:
// audit entries with console actions and console actors, an entry for
// another gateway, past and future dates, alerts and risk for subjects
// the gateway was never sent, a "gateway" event for the live streams.
// Each forged event is refused by itself, with its reason; the good ones
// of the same batch are stored, stamped with the gateway that sent them.
func TestGatewayCannotForgeConsoleEvents(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	t.Cleanup(hs.Close)
	var ada, bob store.User
	e.httpAPI(hs.URL, domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "ada@example.com", Role: domain.RoleViewer, Password: "correct horse battery"}, 201, &ada)
	e.httpAPI(hs.URL, domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "root@example.com", Role: domain.RoleAdmin, Password: "correct horse battery"}, 201, &bob)
	var adaDev, bobDev Enrolment
	e.httpAPI(hs.URL, domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "ada-laptop", Owner: ada.ID}, 201, &adaDev)
	e.httpAPI(hs.URL, domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "root-laptop", Owner: bob.ID}, 201, &bobDev)
	g := registerGatewayHTTP(t, e, hs.URL, "edge-1")
	other := registerGatewayHTTP(t, e, hs.URL, "edge-2")

	now := time.Now().UTC()
	past, future := now.Add(-3*time.Hour), now.Add(time.Hour)
	ev := func(m map[string]any) map[string]any {
		if _, ok := m["id"]; !ok {
			m["id"] = controlplane.NewEventID()
		}
		if _, ok := m["time"]; !ok {
			m["time"] = now
		}
		return m
	}
	alert := map[string]any{"detector": "denial_burst", "severity": "critical", "score": 100}
	batch := []map[string]any{
		// Refused: console actions, console actors, a "gateway" live event.
		0: ev(map[string]any{"kind": "policy.save", "subject": "root@example.com", "resource": "wiki"}),
		1: ev(map[string]any{"kind": "login", "effect": "allow"}),
		2: ev(map[string]any{"kind": "gateway", "message": "edge-9 registered"}),
		3: ev(map[string]any{"kind": "decision", "subject": "root@example.com", "resource": "wiki", "effect": "allow"}),
		4: ev(map[string]any{"kind": "decision", "subject": "system", "resource": "wiki", "effect": "allow"}),
		5: ev(map[string]any{"kind": "decision", "subject": "apikey:test-admin", "resource": "wiki", "effect": "allow"}),
		// Refused: alerts for subjects and devices outside the bundle.
		6: ev(map[string]any{"kind": "alert", "subject": "u_nobody", "alert": alert}),
		7: ev(map[string]any{"kind": "alert", "subject": ada.ID, "device": bobDev.Device.ID, "alert": alert}),
		8: ev(map[string]any{"kind": "alert", "device": "d_nowhere", "alert": alert}),
		// Refused: an effect no gateway decides, and no id.
		9:  ev(map[string]any{"kind": "decision", "subject": ada.ID, "effect": "=cmd|' /C calc'!A0"}),
		10: {"kind": "decision", "subject": ada.ID, "effect": "deny", "time": now},
		// Stored, stamped with the sender: a decision with an id that
		// names another gateway.
		11: ev(map[string]any{"id": other.id + ":x", "kind": "decision", "subject": ada.ID, "device": adaDev.Device.ID, "resource": "wiki", "effect": "allow"}),
		// Stored, flagged: dated three hours back and one hour ahead.
		12: ev(map[string]any{"kind": "decision", "subject": ada.ID, "resource": "wiki-past", "effect": "deny", "time": past}),
		13: ev(map[string]any{"kind": "flow", "subject": ada.ID, "resource": "wiki-future", "effect": "allow", "time": future}),
		// Stored: an alert about a subject and device of the bundle.
		14: ev(map[string]any{"kind": "alert", "subject": ada.ID, "device": adaDev.Device.ID, "message": "12 denials", "alert": map[string]any{"detector": "denial_burst", "severity": "high", "score": 53}}),
		// Stored: a source-level alert has no subject.
		15: ev(map[string]any{"kind": "alert", "source": "198.51.100.7", "alert": map[string]any{"detector": "password_spray", "severity": "low", "score": 10}}),
	}
	// The wire format has no gateway or actor field to claim: a batch
	// that sends one is refused whole.
	forged, _ := json.Marshal(map[string]any{"events": []map[string]any{ev(map[string]any{"kind": "decision", "subject": ada.ID, "gateway": other.id, "actor": "root@example.com"})}})
	if code, body := g.post("/cp/v1/events", forged); code != 400 {
		t.Errorf("an event naming its gateway and actor: %d %s, want 400", code, body)
	}
	raw, _ := json.Marshal(map[string]any{"events": batch})
	ack := g.events(raw)
	refused := map[int]string{}
	for _, rj := range ack.Rejected {
		refused[rj.Index] = rj.Reason
	}
	t.Logf("ack: %+v", ack)
	wantReason := map[int]string{0: "kind", 1: "kind", 2: "kind", 3: "bundle", 4: "bundle", 5: "bundle", 6: "bundle", 7: "belongs to another", 8: "bundle", 9: "effect", 10: "id"}
	for i, want := range wantReason {
		if !strings.Contains(refused[i], want) {
			t.Errorf("event %d: refusal %q, want one about %q", i, refused[i], want)
		}
	}
	if len(ack.Rejected) != len(wantReason) || ack.Accepted != len(batch)-len(wantReason) {
		t.Errorf("ack %+v: want %d refused and %d stored", ack, len(wantReason), len(batch)-len(wantReason))
	}

	var log page[store.AuditEvent]
	e.httpAPI(hs.URL, domain.RoleAuditor, "GET", "/api/v1/audit?limit=500", nil, 200, &log)
	var mine []store.AuditEvent
	for _, a := range log.Items {
		if a.Gateway != "" {
			mine = append(mine, a)
		}
	}
	if len(mine) != ack.Accepted {
		t.Fatalf("%d gateway entries in the audit log, want %d: %+v", len(mine), ack.Accepted, mine)
	}
	for _, a := range mine {
		if a.Gateway != g.id || !strings.HasPrefix(a.EventID, g.id+":") {
			t.Errorf("entry %d stored as gateway %q (%s), want the sender %s", a.Seq, a.Gateway, a.EventID, g.id)
		}
		if a.Actor != ada.ID && a.Actor != "gateway:edge-1" {
			t.Errorf("entry %d has actor %q, want a bundle subject or the gateway", a.Seq, a.Actor)
		}
		if !slices.Contains(controlplane.EventKinds, a.Action) {
			t.Errorf("entry %d has action %q", a.Seq, a.Action)
		}
		if d := a.Time.Sub(now); d < -time.Minute || d > time.Minute {
			t.Errorf("entry %d (%s) stored at %v, outside the console's window around %v", a.Seq, a.Resource, a.Time, now)
		}
		var det eventDetail
		json.Unmarshal(a.Detail, &det)
		switch a.Resource {
		case "wiki-past", "wiki-future":
			want := past
			if a.Resource == "wiki-future" {
				want = future
			}
			if !det.ClockSkew || !det.ReportedTime.Equal(want) {
				t.Errorf("entry %s: detail %s, want clock_skew and reported_time %v", a.Resource, a.Detail, want)
			}
		default:
			if det.ClockSkew || !det.ReportedTime.IsZero() {
				t.Errorf("entry %s flagged for clock skew: %s", a.Resource, a.Detail)
			}
		}
	}
	refusals := 0
	for _, a := range log.Items {
		if a.Action == "gateway.events_refused" && a.Actor == "gateway:edge-1" {
			refusals++
		}
	}
	if refusals != 1 {
		t.Errorf("%d gateway.events_refused entries, want 1", refusals)
	}
	if rep, _ := e.st.VerifyAudit(bg); !rep.OK {
		t.Errorf("audit chain: %+v", rep)
	}

	var alerts page[store.Alert]
	e.httpAPI(hs.URL, domain.RoleViewer, "GET", "/api/v1/alerts", nil, 200, &alerts)
	if len(alerts.Items) != 2 {
		t.Fatalf("alerts = %+v, want ada's denial_burst and the source-level spray", alerts.Items)
	}
	for _, a := range alerts.Items {
		if a.Subject != ada.ID && a.Subject != "" || a.Severity == "critical" {
			t.Errorf("alert %+v stored from a forged event", a)
		}
	}

	// Risk: only for the bundle's users, within 1..100; a refused
	// report leaves the last good one.
	if code, body := g.post("/cp/v1/status", controlplane.Status{Risk: []controlplane.SubjectRisk{{Subject: ada.ID, Score: 40, Signals: []string{"denial_burst"}}}}); code != 204 {
		t.Fatalf("good status: %d %s", code, body)
	}
	for _, bad := range [][]controlplane.SubjectRisk{
		{{Subject: "u_nobody", Score: 100}},
		{{Subject: "root@example.com", Score: 100}},
		{{Subject: ada.ID, Score: 40}, {Subject: bob.ID, Score: 1000}},
		{{Subject: bob.ID, Score: -5}},
	} {
		code, body := g.post("/cp/v1/status", controlplane.Status{Risk: bad})
		if code != 400 || !strings.Contains(string(body), "risk") && !strings.Contains(string(body), "bundle") {
			t.Errorf("status with risk %+v: %d %s, want 400 naming the subject", bad, code, body)
		}
	}
	var risks page[UserRisk]
	e.httpAPI(hs.URL, domain.RoleViewer, "GET", "/api/v1/analytics/risk", nil, 200, &risks)
	for _, r := range risks.Items {
		if r.ScoreFrom == "gateway" && (r.Subject != ada.ID || r.GatewayScore != 40) {
			t.Errorf("risk %+v from a refused report", r)
		}
	}

	// The window is a setting: with four hours, the past event is
	// believed.
	if err := e.st.SetSetting(bg, SettingClockSkew, "4h"); err != nil {
		t.Fatal(err)
	}
	raw, _ = json.Marshal(map[string]any{"events": []map[string]any{ev(map[string]any{"kind": "decision", "subject": ada.ID, "resource": "wiki-old", "effect": "deny", "time": past})}})
	if ack := g.events(raw); ack.Accepted != 1 {
		t.Fatalf("ack %+v", ack)
	}
	e.httpAPI(hs.URL, domain.RoleAuditor, "GET", "/api/v1/audit?resource=wiki-old", nil, 200, &log)
	if len(log.Items) != 1 || !log.Items[0].Time.Equal(past) || strings.Contains(string(log.Items[0].Detail), "clock_skew") {
		t.Errorf("within a 4h window: %+v", log.Items)
	}
}

// TestGatewayClientDropsRefusedEvents: a refused event does not hold
// back a real gateway client's spool; the good event after it arrives.
func TestGatewayClientDropsRefusedEvents(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	t.Cleanup(hs.Close)
	var ada store.User
	e.httpAPI(hs.URL, domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "ada@example.com", Role: domain.RoleViewer, Password: "correct horse battery"}, 201, &ada)
	var created gatewayCreated
	e.httpAPI(hs.URL, domain.RoleOperator, "POST", "/api/v1/gateways", gatewayRequest{Name: "edge-1"}, 201, &created)
	cl, err := controlplane.New(hs.URL, &controlplane.Options{StateDir: t.TempDir(), RetryMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.Register(t.Context(), created.Token, "edge-1"); err != nil {
		t.Fatal(err)
	}
	if err := cl.Emit(controlplane.Event{Kind: "login", Subject: "root@example.com", Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := cl.Emit(controlplane.Event{Kind: "decision", Subject: ada.ID, Resource: "after", Effect: "allow", Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	waitPending(t, cl, 0)
	var log page[store.AuditEvent]
	e.httpAPI(hs.URL, domain.RoleAuditor, "GET", "/api/v1/audit?resource=after", nil, 200, &log)
	if len(log.Items) != 1 {
		t.Fatalf("the event after a refused one: %+v", log.Items)
	}
	e.httpAPI(hs.URL, domain.RoleAuditor, "GET", "/api/v1/audit?action=login", nil, 200, &log)
	if len(log.Items) != 0 {
		t.Fatalf("a gateway wrote a login: %+v", log.Items)
	}
}

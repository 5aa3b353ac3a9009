package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// httpGet fetches path over the network as role and returns the status
// and the body.
func (e *env) httpGet(base string, role domain.Role, path string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.keys[role])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestNamesForGatewayEvents has a registered gateway post, over the
// control-plane API, what it records for a user (two decisions and an
// alert, naming her and her device by id), and checks over HTTP that
// the pages show her email, her device's and the gateway's names with
// the ids on hover, that filters and search by those names find her
// gateway-recorded traffic (and an unknown name finds nothing), and
// that exports still carry the ids.
func TestNamesForGatewayEvents(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	t.Cleanup(hs.Close)
	var ann, bob store.User
	e.httpAPI(hs.URL, domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "ann@example.com", Role: domain.RoleViewer, Password: "correct horse battery"}, 201, &ann)
	e.httpAPI(hs.URL, domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "bob@example.com", Role: domain.RoleViewer, Password: "correct horse battery"}, 201, &bob)
	var annDev Enrolment
	e.httpAPI(hs.URL, domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "ann-laptop", Owner: ann.ID}, 201, &annDev)
	g := registerGatewayHTTP(t, e, hs.URL, "edge-north")

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	feed := openSSE(t, ctx, e, hs.URL, "/ui/live", domain.RoleAdmin)
	time.Sleep(200 * time.Millisecond)

	now := time.Now().UTC()
	raw, _ := json.Marshal(controlplane.EventBatch{Events: []controlplane.Event{
		{ID: "n1", Time: now, Kind: "decision", Subject: ann.ID, Device: annDev.Device.ID, Resource: "wiki", Effect: "allow"},
		{ID: "n2", Time: now, Kind: "decision", Subject: ann.ID, Device: annDev.Device.ID, Resource: "db-main", Effect: "deny"},
		{ID: "n3", Time: now, Kind: "decision", Subject: bob.ID, Resource: "bob-only", Effect: "allow"},
		{ID: "n4", Time: now, Kind: "alert", Subject: ann.ID, Device: annDev.Device.ID, Message: "12 denials", Alert: &controlplane.Alert{Detector: "denial_burst", Severity: "high", Score: 53}},
	}})
	if ack := g.events(raw); ack.Accepted != 4 {
		t.Fatalf("ack %+v", ack)
	}

	// The live feed's row: her email, the gateway's name, ids on hover.
	live := strings.Join(feed.until(t, "/ui/live", "db-main"), "\n")
	for _, want := range []string{`<td title="` + ann.ID + `">ann@example.com</td>`, `<td title="` + g.id + `">edge-north</td>`} {
		if !strings.Contains(live, want) {
			t.Errorf("live feed lacks %s:\n%s", want, live)
		}
	}

	// The API filter by email finds her gateway-recorded decisions, and
	// only hers; an unknown email finds nothing.
	auditAPI := func(q url.Values) []store.AuditEvent {
		t.Helper()
		var p page[store.AuditEvent]
		e.httpAPI(hs.URL, domain.RoleAuditor, "GET", "/api/v1/audit?"+q.Encode(), nil, 200, &p)
		return p.Items
	}
	got := auditAPI(url.Values{"actor": {"ann@example.com"}, "action": {"decision"}})
	if len(got) != 2 {
		t.Fatalf("actor=ann@example.com: %d entries, want her 2 decisions: %+v", len(got), got)
	}
	for _, a := range got {
		if a.Actor != ann.ID || a.Gateway != g.id {
			t.Errorf("entry %d: actor %q gateway %q, want the ids %s and %s", a.Seq, a.Actor, a.Gateway, ann.ID, g.id)
		}
	}
	if got := auditAPI(url.Values{"actor": {"nobody@example.com"}}); len(got) != 0 {
		t.Errorf("actor=nobody@example.com: %d entries, want none: %+v", len(got), got)
	}
	if got := auditAPI(url.Values{"gateway": {"edge-north"}, "action": {"decision"}}); len(got) != 3 {
		t.Errorf("gateway=edge-north: %d decisions, want 3: %+v", len(got), got)
	}
	if got := auditAPI(url.Values{"gateway": {"edge-south"}}); len(got) != 0 {
		t.Errorf("gateway=edge-south: %d entries, want none", len(got))
	}
	if got := auditAPI(url.Values{"q": {"ann@example.com"}, "action": {"decision"}}); len(got) != 2 {
		t.Errorf("q=ann@example.com: %d decisions, want her 2: %+v", len(got), got)
	}
	// A search for her email finds what names her by id and what names
	// her by email (her account's creation), newest first.
	found := map[string]int{}
	got = auditAPI(url.Values{"q": {"ann@example.com"}})
	for i, a := range got {
		found[a.Action]++
		if i > 0 && a.Seq >= got[i-1].Seq {
			t.Errorf("q=ann@example.com: entries out of order: %d after %d", a.Seq, got[i-1].Seq)
		}
	}
	if found["decision"] != 2 || found["user.create"] != 1 || found["alert"] != 1 {
		t.Errorf("q=ann@example.com found %v, want her 2 decisions, her alert and her user.create", found)
	}

	// A search for her device's name finds what names the device's id.
	found = map[string]int{}
	for _, a := range auditAPI(url.Values{"q": {"ann-laptop"}}) {
		found[a.Action]++
	}
	if found["decision"] != 2 || found["alert"] != 1 || found["decision"]+found["alert"]+found["device.enrol"] != len(auditAPI(url.Values{"q": {"ann-laptop"}})) {
		t.Errorf("q=ann-laptop found %v, want the device's 2 decisions, its alert and its enrolment", found)
	}

	// The audit page: names with the ids on hover, and the same filter.
	code, body := e.httpGet(hs.URL, domain.RoleAuditor, "/audit?action=decision")
	if code != 200 {
		t.Fatalf("/audit: %d", code)
	}
	for _, want := range []string{`<td title="` + ann.ID + `">ann@example.com</td>`, `<td title="` + g.id + `">edge-north</td>`, "device ann-laptop"} {
		if !strings.Contains(body, want) {
			t.Errorf("/audit lacks %s", want)
		}
	}
	_, body = e.httpGet(hs.URL, domain.RoleAuditor, "/audit?actor=ann%40example.com&action=decision")
	if !strings.Contains(body, "wiki") || !strings.Contains(body, "db-main") || strings.Contains(body, "bob-only") {
		t.Errorf("/audit?actor=ann@example.com does not show exactly her decisions:\n%s", body)
	}
	_, body = e.httpGet(hs.URL, domain.RoleAuditor, "/audit?actor=nobody%40example.com")
	if !strings.Contains(body, "No entries match") || strings.Contains(body, "db-main") {
		t.Errorf("/audit?actor=nobody@example.com: want no entries match:\n%s", body)
	}

	// The dashboard's feed and the analytics page name her too.
	_, body = e.httpGet(hs.URL, domain.RoleAdmin, "/")
	for _, want := range []string{`<td title="` + ann.ID + `">ann@example.com</td>`, `<td title="` + g.id + `">edge-north</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}
	_, body = e.httpGet(hs.URL, domain.RoleAdmin, "/analytics")
	if !strings.Contains(body, `title="`+ann.ID+`">ann@example.com</a>`) {
		t.Errorf("analytics does not show ann@example.com for %s", ann.ID)
	}
	_, body = e.httpGet(hs.URL, domain.RoleAdmin, "/alerts?q=ann%40example.com")
	if !strings.Contains(body, "12 denials") || !strings.Contains(body, `<td title="`+ann.ID+`">ann@example.com</td>`) {
		t.Errorf("/alerts?q=ann@example.com does not list her alert by email:\n%s", body)
	}
	var risk page[UserRisk]
	e.httpAPI(hs.URL, domain.RoleAdmin, "GET", "/api/v1/analytics/risk?q=ann%40example.com", nil, 200, &risk)
	if len(risk.Items) != 1 || risk.Items[0].Subject != ann.ID || risk.Items[0].Name != "ann@example.com" {
		t.Errorf("risk?q=ann@example.com = %+v, want her, by id and name", risk.Items)
	}

	// Exports keep the ids.
	_, csv := e.httpGet(hs.URL, domain.RoleAuditor, "/api/v1/audit/export?format=csv&actor=ann%40example.com&action=decision")
	rows := 0
	sc := bufio.NewScanner(strings.NewReader(csv))
	for sc.Scan() {
		if line := sc.Text(); strings.Contains(line, ",decision,") {
			rows++
			if !strings.Contains(line, ","+ann.ID+",") || !strings.Contains(line, ","+g.id+",") || strings.Contains(line, "ann@example.com") {
				t.Errorf("CSV row does not carry the ids: %s", line)
			}
		}
	}
	if rows != 2 {
		t.Errorf("CSV export of actor=ann@example.com: %d decisions, want 2:\n%s", rows, csv)
	}
	_, jsonl := e.httpGet(hs.URL, domain.RoleAuditor, "/api/v1/audit/export?format=jsonl&actor=ann%40example.com&action=decision")
	for line := range strings.SplitSeq(strings.TrimSpace(jsonl), "\n") {
		var a store.AuditEvent
		if err := json.Unmarshal([]byte(line), &a); err != nil || a.Actor != ann.ID || a.Gateway != g.id {
			t.Errorf("JSON export line %s (%v): want actor %s and gateway %s", line, err, ann.ID, g.id)
		}
	}
}

// FuzzAuditDetail feeds the audit page's detail cell whatever an entry's
// detail may hold: it never panics, keeps the detail, and names a device
// only for an id the page resolved.
func FuzzAuditDetail(f *testing.F) {
	for _, seed := range []string{``, `{}`, `{"device":"d_1"}`, `{"device":5}`, `[1,2]`, `{"device":"d_1","rule":"x"}`, `not json`, `{"device":"\u0000"}`} {
		f.Add(seed)
	}
	n := domain.Names{"d_1": "ann-laptop"}
	f.Fuzz(func(t *testing.T, detail string) {
		e := domain.AuditEntry{Detail: json.RawMessage(detail)}
		got := auditDetail(e, n)
		if d := e.Device(); d == "d_1" {
			if !strings.HasPrefix(got, "device ann-laptop (d_1)\n") {
				t.Errorf("detail %q: %q does not name the device", detail, got)
			}
		} else if strings.HasPrefix(got, "device ann-laptop") && !strings.HasPrefix(detail, "device") {
			t.Errorf("detail %q names a device it does not hold: %q", detail, got)
		}
	})
}

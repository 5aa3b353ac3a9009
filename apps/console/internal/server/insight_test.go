package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// form posts a page form as role (through its API key, which needs no
// CSRF token) and returns the answer.
func (e *env) form(role domain.Role, path string, v url.Values) *http.Response {
	e.t.Helper()
	req := httptest.NewRequest("POST", path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+e.keys[role])
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, req)
	return w.Result()
}

// page gets a page as role and returns its status and HTML.
func (e *env) page(role domain.Role, path string) (int, string) {
	e.t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+e.keys[role])
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, req)
	body, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(body)
}

func decision(t time.Time, actor, resource, effect, gateway, device string) store.AuditEvent {
	d, _ := json.Marshal(eventDetail{Device: device})
	return store.AuditEvent{Time: t, Actor: actor, Action: "decision", Resource: resource, Effect: effect, Gateway: gateway, Detail: d}
}

func TestAnalyticsRiskAndDetectorHits(t *testing.T) {
	e := newEnv(t, nil)
	now := time.Now().UTC()
	for _, a := range []store.Alert{
		{Time: now.Add(-time.Minute), Severity: "high", Kind: "impossible_travel", Subject: "ada@example.com", Message: "Paris then Sydney", Evidence: json.RawMessage(`{"km":16960,"minutes":40}`)},
		{Time: now.Add(-2 * time.Hour), Severity: "medium", Kind: "new_device", Subject: "bob@example.com", Message: "new laptop"},
		{Time: now.Add(-2*time.Hour - time.Minute), Severity: "low", Kind: "password_spray", Message: "source-level"},
		{Time: now.Add(-48 * time.Hour), Severity: "critical", Kind: "exfiltration", Subject: "old@example.com", Message: "too old to count"},
	} {
		if err := e.st.CreateAlert(bg, &a); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := e.st.AppendAudit(bg, []store.AuditEvent{
		decision(now.Add(-3*time.Minute), "ada@example.com", "wiki", "allow", "g1", ""),
		decision(now.Add(-2*time.Minute), "ada@example.com", "db", "deny", "g1", ""),
		decision(now.Add(-time.Minute), "carol@example.com", "wiki", "deny", "g1", ""),
	}); err != nil {
		t.Fatal(err)
	}

	var risk page[UserRisk]
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/analytics/risk", nil, 200, &risk)
	by := map[string]UserRisk{}
	for _, u := range risk.Items {
		by[u.Subject] = u
	}
	// One fresh high alert: 100·(1−e^(−45/60)) = 53, as on a gateway.
	if a := by["ada@example.com"]; a.Score != 53 || a.Allowed != 1 || a.Denied != 1 || a.OpenAlerts != 1 || len(a.Signals) != 1 || a.Signals[0] != "impossible_travel" {
		t.Errorf("ada = %+v", a)
	}
	// A medium alert two hours old weighs half: 100·(1−e^(−12.5/60)) = 19.
	if b := by["bob@example.com"]; b.Score != 19 {
		t.Errorf("bob = %+v", b)
	}
	if c := by["carol@example.com"]; c.Score != 0 || c.Denied != 1 {
		t.Errorf("carol = %+v", c)
	}
	if _, ok := by["old@example.com"]; ok {
		t.Error("an alert older than the window counted")
	}
	if len(risk.Items) < 3 || risk.Items[0].Subject != "ada@example.com" {
		t.Errorf("not ordered by score: %+v", risk.Items)
	}

	var some page[UserRisk]
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/analytics/risk?q=BOB&limit=5", nil, 200, &some)
	if len(some.Items) != 1 || some.Items[0].Subject != "bob@example.com" {
		t.Errorf("q=BOB: %+v", some.Items)
	}
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/analytics/risk?limit=1", nil, 200, &some)
	if len(some.Items) != 1 || some.Items[0].Subject != "ada@example.com" {
		t.Errorf("limit=1: %+v", some.Items)
	}

	var hits DetectorHits
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/analytics/detectors", nil, 200, &hits)
	if hits.Totals["impossible_travel"] != 1 || hits.Totals["new_device"] != 1 || hits.Totals["password_spray"] != 1 || hits.Totals["exfiltration"] != 0 {
		t.Errorf("totals = %v", hits.Totals)
	}
	if n := len(hits.Hours); n < 24 || n > 25 {
		t.Errorf("%d hours", n)
	}
	last := hits.Hours[len(hits.Hours)-1]
	if last.Hits["impossible_travel"] != 1 && hits.Hours[len(hits.Hours)-2].Hits["impossible_travel"] != 1 {
		t.Errorf("the fresh alert is not in the last hours: %+v", hits.Hours[len(hits.Hours)-2:])
	}

	code, html := e.page(domain.RoleViewer, "/analytics")
	if code != 200 || !strings.Contains(html, "Detector hits per hour") || !strings.Contains(html, "ada@example.com 53") || !strings.Contains(html, `id="risk-table"`) {
		t.Errorf("analytics page %d:\n%s", code, html)
	}
}

func TestAlertDetailShowsEvidence(t *testing.T) {
	e := newEnv(t, nil)
	a := store.Alert{Severity: "high", Kind: "impossible_travel", Subject: "ada@example.com", Message: "Paris then Sydney", Evidence: json.RawMessage(`{"km":16960,"from":"FR","to":"AU"}`)}
	if err := e.st.CreateAlert(bg, &a); err != nil {
		t.Fatal(err)
	}
	other := store.Alert{Severity: "critical", Kind: "denial_burst", Subject: "eve@example.com", Message: "eve copied ada@example.com"}
	if err := e.st.CreateAlert(bg, &other); err != nil {
		t.Fatal(err)
	}
	var got store.Alert
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/alerts/"+a.ID, nil, 200, &got)
	if got.Kind != "impossible_travel" || !strings.Contains(string(got.Evidence), "16960") {
		t.Errorf("alert = %+v", got)
	}
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/alerts/a_nope", nil, 404, nil)

	code, html := e.page(domain.RoleViewer, "/alerts/"+a.ID)
	if code != 200 || !strings.Contains(html, "<th scope=\"row\">km</th><td>16960</td>") || !strings.Contains(html, "<th scope=\"row\">to</th><td>AU</td>") {
		t.Errorf("detail page %d lacks the evidence:\n%s", code, html)
	}
	// One fresh high alert, and another user's that the search for
	// "ada@example.com" also finds by its message, which must not count.
	if !strings.Contains(html, "<dd>53 / 100</dd>") {
		t.Errorf("detail page lacks the subject's risk:\n%s", html)
	}
	if strings.Contains(html, `id="acknowledge"`) {
		t.Error("a viewer is offered acknowledge")
	}
	if _, html := e.page(domain.RoleOperator, "/alerts/"+a.ID); !strings.Contains(html, `id="acknowledge"`) {
		t.Error("an operator is not offered acknowledge")
	}
	resp := e.form(domain.RoleOperator, "/alerts/"+a.ID+"/acknowledge", url.Values{"back": {"detail"}})
	if f := e.formFlash(resp, domain.RoleOperator); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/alerts/"+a.ID || f.kind != flashInfo {
		t.Errorf("acknowledge: %d %s with %+v", resp.StatusCode, resp.Header.Get("Location"), f)
	}
	if x, _ := e.st.Alert(bg, a.ID); x.State != "acknowledged" {
		t.Errorf("state = %s", x.State)
	}
	if code, _ := e.page(domain.RoleViewer, "/alerts/a_nope"); code != 404 {
		t.Errorf("missing alert page: %d", code)
	}
}

func TestGroupsMembersAndRoles(t *testing.T) {
	e := newEnv(t, nil)
	ada := &store.User{Email: "ada@example.com", Role: domain.RoleAdmin, Groups: []string{"eng"}, PasswordHash: "x"}
	bob := &store.User{Email: "bob@example.com", Role: domain.RoleViewer, PasswordHash: "x"}
	for _, u := range []*store.User{ada, bob} {
		if err := e.st.CreateUser(bg, u); err != nil {
			t.Fatal(err)
		}
	}
	if resp := e.form(domain.RoleAdmin, "/groups", url.Values{"name": {"ops"}, "description": {"on call"}}); resp.StatusCode != http.StatusSeeOther || e.formFlash(resp, domain.RoleAdmin).kind != flashInfo {
		t.Fatalf("create group: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := e.form(domain.RoleAdmin, "/groups", url.Values{"name": {"bad name!"}}); e.formFlash(resp, domain.RoleAdmin).kind != flashError {
		t.Errorf("a bad group name was accepted: %s", resp.Header.Get("Location"))
	}
	if resp := e.form(domain.RoleOperator, "/groups", url.Values{"name": {"x"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("operator created a group: %d", resp.StatusCode)
	}
	// Add by email on the page, by id through the API.
	e.form(domain.RoleAdmin, "/groups/ops/members", url.Values{"user": {"bob@example.com"}})
	var u store.User
	e.mustCall(domain.RoleAdmin, "PUT", "/api/v1/groups/ops/members/"+ada.ID, nil, 200, &u)
	var g GroupDetail
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/groups/ops", nil, 200, &g)
	if !g.Defined || g.Description != "on call" || len(g.Members) != 2 || g.Members[0].Email != "ada@example.com" || g.Members[1].Email != "bob@example.com" {
		t.Errorf("ops = %+v", g)
	}
	// "eng" is only named by ada: listed, but undefined.
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/groups/eng", nil, 200, &g)
	if g.Defined || len(g.Members) != 1 {
		t.Errorf("eng = %+v", g)
	}
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/groups/none", nil, 404, nil)
	e.mustCall(domain.RoleAdmin, "PUT", "/api/v1/groups/ops/members/nobody@example.com", nil, 404, nil)

	_, html := e.page(domain.RoleViewer, "/groups")
	if !strings.Contains(html, `id="group-ops"`) || !strings.Contains(html, "bob@example.com") || strings.Contains(html, `id="group-form"`) {
		t.Errorf("viewer's groups page:\n%s", html)
	}

	e.form(domain.RoleAdmin, "/groups/ops/members/"+bob.ID+"/remove", nil)
	if x, _ := e.st.User(bg, bob.ID); len(x.Groups) != 0 {
		t.Errorf("bob's groups after removal: %v", x.Groups)
	}

	// Roles: ada is the only admin and may not be demoted.
	resp := e.form(domain.RoleAdmin, "/users/role", url.Values{"user": {"ada@example.com"}, "role": {"viewer"}})
	if f := e.formFlash(resp, domain.RoleAdmin); f.kind != flashError || !strings.Contains(f.text, "last admin") {
		t.Errorf("demoting the last admin: %+v", f)
	}
	e.form(domain.RoleAdmin, "/users/role", url.Values{"user": {bob.ID}, "role": {"admin"}})
	e.form(domain.RoleAdmin, "/users/role", url.Values{"user": {"ada@example.com"}, "role": {"auditor"}})
	if x, _ := e.st.User(bg, ada.ID); x.Role != domain.RoleAuditor {
		t.Errorf("ada's role = %s", x.Role)
	}
	if resp := e.form(domain.RoleAdmin, "/users/role", url.Values{"user": {bob.ID}, "role": {"root"}}); e.formFlash(resp, domain.RoleAdmin).kind != flashError {
		t.Error("an unknown role was accepted")
	}
	if x, _ := e.st.User(bg, bob.ID); x.Role != domain.RoleAdmin {
		t.Errorf("bob's role = %s", x.Role)
	}
}

func TestAttachmentsFromEvents(t *testing.T) {
	e := newEnv(t, nil)
	for _, r := range []store.Resource{{Name: "yubikey", Kind: "usb", Address: "1-1"}, {Name: "console-port", Kind: "serial"}, {Name: "wiki", Kind: "http"}} {
		if err := e.st.PutResource(bg, &r); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	flow := func(t time.Time, actor, resource, gateway, device string) store.AuditEvent {
		ev := decision(t, actor, resource, "allow", gateway, device)
		ev.Action = "flow"
		return ev
	}
	if _, _, err := e.st.AppendAudit(bg, []store.AuditEvent{
		decision(now.Add(-5*time.Minute), "ada@example.com", "yubikey", "allow", "g1", "laptop"),
		decision(now.Add(-4*time.Minute), "bob@example.com", "yubikey", "allow", "g1", "desk"),
		decision(now.Add(-3*time.Minute), "eve@example.com", "yubikey", "deny", "g1", "phone"),
		flow(now.Add(-2*time.Minute), "ada@example.com", "yubikey", "g1", "laptop"),
		decision(now.Add(-time.Minute), "ada@example.com", "console-port", "allow", "g1", "laptop"),
		decision(now.Add(-time.Minute), "ada@example.com", "wiki", "allow", "g1", "laptop"),
	}); err != nil {
		t.Fatal(err)
	}
	var got page[DeviceResource]
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/attachments", nil, 200, &got)
	by := map[string]DeviceResource{}
	for _, d := range got.Items {
		by[d.Resource.Name] = d
	}
	if len(got.Items) != 2 {
		t.Fatalf("want the usb and the serial resource, got %+v", got.Items)
	}
	if y := by["yubikey"]; len(y.Attachments) != 1 || y.Attachments[0].Subject != "bob@example.com" || y.Attachments[0].Device != "desk" {
		t.Errorf("yubikey = %+v", y)
	}
	if c := by["console-port"]; len(c.Attachments) != 1 || c.Attachments[0].Subject != "ada@example.com" {
		t.Errorf("console-port = %+v", c)
	}
	code, html := e.page(domain.RoleViewer, "/attachments")
	if code != 200 || !strings.Contains(html, "bob@example.com") || !strings.Contains(html, "gateway silent") {
		t.Errorf("attachments page %d:\n%s", code, html)
	}

	// Events appended since are read on the next request: bob detaches,
	// carol attaches.
	if _, _, err := e.st.AppendAudit(bg, []store.AuditEvent{
		flow(now.Add(-30*time.Second), "bob@example.com", "yubikey", "g1", "desk"),
		decision(now.Add(-20*time.Second), "carol@example.com", "yubikey", "allow", "g1", "tablet"),
	}); err != nil {
		t.Fatal(err)
	}
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/attachments", nil, 200, &got)
	for _, d := range got.Items {
		by[d.Resource.Name] = d
	}
	if y := by["yubikey"]; len(y.Attachments) != 1 || y.Attachments[0].Subject != "carol@example.com" || !y.LastUse.Equal(now.Add(-20*time.Second)) {
		t.Errorf("yubikey after more events = %+v", y)
	}
	// A burst longer than the scan: ada's attachment falls out of it.
	var burst []store.AuditEvent
	for i := range domain.AttachmentScan {
		burst = append(burst, decision(now.Add(-10*time.Second), "eve@example.com", "console-port", "deny", "g1", fmt.Sprint("d", i)))
	}
	if _, _, err := e.st.AppendAudit(bg, burst); err != nil {
		t.Fatal(err)
	}
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/attachments", nil, 200, &got)
	for _, d := range got.Items {
		by[d.Resource.Name] = d
	}
	if c := by["console-port"]; len(c.Attachments) != 0 || !c.LastUse.Equal(now.Add(-10*time.Second)) {
		t.Errorf("console-port after a burst = %d attachments, last use %v", len(c.Attachments), c.LastUse)
	}
	if y := by["yubikey"]; len(y.Attachments) != 1 || y.Attachments[0].Subject != "carol@example.com" {
		t.Errorf("yubikey after another resource's burst = %+v", y)
	}
}

func TestUsersPageChangesRoles(t *testing.T) {
	e := newEnv(t, nil)
	bob := &store.User{Email: "bob@example.com", Role: domain.RoleViewer, PasswordHash: "x"}
	if err := e.st.CreateUser(bg, bob); err != nil {
		t.Fatal(err)
	}
	_, html := e.page(domain.RoleAdmin, "/users")
	if !strings.Contains(html, `action="/users/`+bob.ID+`/role"`) || !strings.Contains(html, `<option value="viewer" selected>`) {
		t.Errorf("admin's users page has no role control:\n%s", html)
	}
	if _, html := e.page(domain.RoleOperator, "/users"); strings.Contains(html, "/role\"") {
		t.Error("an operator sees the role control")
	}
	resp := e.form(domain.RoleAdmin, "/users/"+bob.ID+"/role", url.Values{"role": {"policy_editor"}})
	if loc, f := resp.Header.Get("Location"), e.formFlash(resp, domain.RoleAdmin); loc != "/users" || f.kind != flashInfo {
		t.Errorf("role change answered %d %s with %+v", resp.StatusCode, loc, f)
	}
	if x, _ := e.st.User(bg, bob.ID); x.Role != domain.RolePolicyEditor {
		t.Errorf("bob's role = %s", x.Role)
	}
	if resp := e.form(domain.RoleOperator, "/users/"+bob.ID+"/role", url.Values{"role": {"admin"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("operator changed a role: %d", resp.StatusCode)
	}
}

func TestGroupNamesAreEscaped(t *testing.T) {
	e := newEnv(t, nil)
	u := &store.User{Email: "ada@example.com", Role: domain.RoleAdmin, Groups: []string{"night shift/ops"}, PasswordHash: "x"}
	if err := e.st.CreateUser(bg, u); err != nil {
		t.Fatal(err)
	}
	_, html := e.page(domain.RoleAdmin, "/groups")
	if !strings.Contains(html, `action="/groups/night%20shift%2Fops/members"`) || !strings.Contains(html, `id="group-night-shift-ops"`) {
		t.Errorf("group with a space and a slash:\n%s", html)
	}
	e.form(domain.RoleAdmin, "/groups/night%20shift%2Fops/members/"+u.ID+"/remove", nil)
	if x, _ := e.st.User(bg, u.ID); len(x.Groups) != 0 {
		t.Errorf("groups after removal: %v", x.Groups)
	}
}

func TestDashboardListsRecentOpenAlerts(t *testing.T) {
	e := newEnv(t, nil)
	open := store.Alert{Severity: "high", Kind: "impossible_travel", Subject: "ada@example.com", Message: "Paris then Sydney"}
	done := store.Alert{Severity: "low", Kind: "unusual_hour", Subject: "bob@example.com", Message: "night owl", State: "resolved"}
	for _, a := range []*store.Alert{&open, &done} {
		if err := e.st.CreateAlert(bg, a); err != nil {
			t.Fatal(err)
		}
	}
	_, html := e.page(domain.RoleViewer, "/")
	if !strings.Contains(html, `href="/alerts/`+open.ID+`"`) || strings.Contains(html, "night owl") {
		t.Errorf("dashboard's recent alerts:\n%s", html)
	}
}

func TestSummaryWindowAndCache(t *testing.T) {
	e := newEnv(t, nil)
	now := time.Now().UTC()
	if _, _, err := e.st.AppendAudit(bg, []store.AuditEvent{
		decision(now.Add(-40*time.Minute), "ada@example.com", "wiki", "allow", "g1", "laptop"),
		decision(now.Add(-10*time.Minute), "ada@example.com", "wiki", "allow", "g1", "laptop"),
		decision(now.Add(-5*time.Minute), "bob@example.com", "db", "deny", "g1", "desk"),
		decision(now.Add(-time.Minute), "bob@example.com", "wiki", "allow", "g1", "desk"),
	}); err != nil {
		t.Fatal(err)
	}
	var sum Summary
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/analytics/summary", nil, 200, &sum)
	if sum.Decisions != 3 || sum.Allowed != 2 || sum.Denied != 1 || len(sum.TopResources) == 0 || sum.TopResources[0] != (ResourceCount{"wiki", 2}) {
		t.Fatalf("summary = %+v", sum)
	}
	// A decision appended later is counted once the cached summary has
	// expired.
	if _, _, err := e.st.AppendAudit(bg, []store.AuditEvent{decision(now, "carol@example.com", "db", "deny", "g1", "tablet")}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.mustCall(domain.RoleViewer, "GET", "/api/v1/analytics/summary", nil, 200, &sum)
		if sum.Decisions == 4 && sum.Denied == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("summary after a new decision = %+v", sum)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

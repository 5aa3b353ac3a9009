package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/policy"
)

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// TestAuthorizationTable calls every route as every role and checks the
// answer against the permission table: a role the table does not allow
// gets 403, an allowed one never does, and anonymous callers get 401.
func TestAuthorizationTable(t *testing.T) {
	e := newEnv(t, nil)
	known := map[perm]bool{permPublic: true, permGateway: true}
	for p := range permRoles {
		known[p] = true
	}
	for _, rt := range e.srv.routes() {
		if !known[rt.perm] {
			t.Errorf("%s %s has no known permission rule (%q)", rt.method, rt.path, rt.perm)
		}
		path := pathParam.ReplaceAllString(strings.ReplaceAll(rt.path, "{$}", ""), "x")
		for _, role := range append([]domain.Role{""}, domain.Roles...) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			req := httptest.NewRequest(rt.method, path, strings.NewReader("{}")).WithContext(ctx)
			if role != "" {
				req.Header.Set("Authorization", "Bearer "+e.keys[role])
			}
			w := httptest.NewRecorder()
			e.srv.ServeHTTP(w, req)
			cancel()
			code := w.Code
			switch {
			case rt.perm == permPublic:
				// A public route may refuse bad credentials in its body (the
				// registration token), but never by role.
				if code == 403 && w.Header().Get("X-Gonaut-Refusal") != "csrf" {
					t.Errorf("public %s %s as %q: %d", rt.method, rt.path, role, code)
				}
			case rt.perm == permGateway:
				if code != 401 {
					t.Errorf("gateway route %s %s as %q: %d, want 401", rt.method, rt.path, role, code)
				}
			case role == "":
				if code != 401 && !(rt.page && code == http.StatusSeeOther) {
					t.Errorf("%s %s anonymous: %d, want 401", rt.method, rt.path, code)
				}
			case allowed(rt.perm, role):
				// Refusals for reasons other than the role (a missing
				// second factor) say so in X-Gonaut-Refusal.
				if (code == 401 || code == 403) && w.Header().Get("X-Gonaut-Refusal") == "" {
					t.Errorf("%s %s as %s (allowed by %s): %d", rt.method, rt.path, role, rt.perm, code)
				}
			default:
				if code != 403 {
					t.Errorf("%s %s as %s (not in %s): %d, want 403", rt.method, rt.path, role, rt.perm, code)
				}
			}
		}
	}
}

func TestRouteWithoutRulePanics(t *testing.T) {
	e := newEnv(t, nil)
	defer func() {
		if recover() == nil {
			t.Error("a route without a permission rule was accepted")
		}
	}()
	e.srv.handle(route{method: "GET", path: "/api/v1/unruled", h: func(http.ResponseWriter, *http.Request, *principal) {}})
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	e := newEnv(t, nil)
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	e.mustCall("", "GET", "/api/v1/openapi.json", nil, 200, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	inTable := map[string]bool{}
	for _, rt := range e.srv.routes() {
		if !strings.HasPrefix(rt.path, "/api/") && rt.path != "/ws" {
			continue
		}
		key := strings.ToLower(rt.method) + " " + rt.path
		inTable[key] = true
		if doc.Paths[rt.path][strings.ToLower(rt.method)] == nil {
			t.Errorf("route %s is not in the OpenAPI document", key)
		}
	}
	for path, ops := range doc.Paths {
		for m := range ops {
			if !inTable[m+" "+path] {
				t.Errorf("OpenAPI describes %s %s, which no route serves", m, path)
			}
		}
	}
}

func TestErrorFormat(t *testing.T) {
	e := newEnv(t, nil)
	var ae apiError
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/resources/nope", nil, 404, &ae)
	if ae.Status != 404 || ae.Code != "not_found" || ae.Message == "" {
		t.Errorf("error = %+v", ae)
	}
	e.mustCall(domain.RoleOperator, "PUT", "/api/v1/resources/x", map[string]any{"kind": "tcp", "bogus": 1}, 400, &ae)
	if ae.Code != "invalid" || !strings.Contains(ae.Message, "bogus") {
		t.Errorf("unknown field error = %+v", ae)
	}
}

const goodPolicy = `description: engineers reach the wiki
rules:
  - id: eng-wiki
    effect: allow
    resources: {kind: http, names: [wiki]}
    when: '"eng" in subject.groups'
tests:
  - name: engineer
    request: {subject: {groups: [eng]}, resource: {kind: http, name: wiki}}
    expect: allow
  - name: stranger
    request: {subject: {groups: [sales]}, resource: {kind: http, name: wiki}}
    expect: deny
`

func TestPolicyLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	typo := strings.Replace(goodPolicy, `"eng" in subject.groups`, `"eng" in subject.grups`, 1)
	var v Validation
	e.mustCall(domain.RoleViewer, "POST", "/api/v1/policies/validate", draft{Name: "wiki", Source: typo}, 200, &v)
	if v.OK || len(v.Diagnostics) == 0 || v.Diagnostics[0].Line != 6 || v.Diagnostics[0].Column == 0 {
		t.Fatalf("typo validation = %+v", v)
	}
	var bad invalidPolicy
	e.mustCall(domain.RolePolicyEditor, "PUT", "/api/v1/policies/wiki", draft{Source: typo}, 422, &bad)
	if bad.Validation == nil || len(bad.Validation.Diagnostics) == 0 {
		t.Errorf("save of a typo = %+v", bad)
	}
	e.mustCall(domain.RoleViewer, "POST", "/api/v1/policies/validate", draft{Name: "wiki", Source: goodPolicy}, 200, &v)
	if !v.OK || len(v.Tests) != 2 || !v.Tests[0].Passed {
		t.Fatalf("good validation = %+v", v)
	}
	var pv store.PolicyVersion
	e.mustCall(domain.RolePolicyEditor, "PUT", "/api/v1/policies/wiki", draft{Source: goodPolicy, Message: "first"}, 200, &pv)
	second := strings.Replace(goodPolicy, "engineers reach", "engineers may reach", 1)
	e.mustCall(domain.RoleAdmin, "PUT", "/api/v1/policies/wiki", draft{Source: second, Message: "wording"}, 200, &pv)
	if pv.Version != 2 || pv.Author != "apikey:test-admin" {
		t.Errorf("second version = %+v", pv)
	}
	var d PolicyDiff
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/policies/wiki/diff", nil, 200, &d)
	var minus, plus int
	for _, l := range d.Lines {
		switch l.Op {
		case "-":
			minus++
		case "+":
			plus++
		}
	}
	if d.From != 1 || d.To != 2 || minus != 1 || plus != 1 {
		t.Errorf("diff = %+v", d)
	}
	e.mustCall(domain.RolePolicyEditor, "POST", "/api/v1/policies/wiki/rollback", rollbackRequest{Version: 1}, 200, &pv)
	var cur store.Policy
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/policies/wiki", nil, 200, &cur)
	if cur.Version != 3 || cur.Source != goodPolicy || !strings.Contains(cur.Message, "rollback to version 1") {
		t.Errorf("after rollback = %+v", cur)
	}
	var hist page[store.PolicyVersion]
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/policies/wiki/versions", nil, 200, &hist)
	if len(hist.Items) != 3 {
		t.Errorf("history has %d versions", len(hist.Items))
	}
	var tmpls page[map[string]string]
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/templates", nil, 200, &tmpls)
	if len(tmpls.Items) != len(policy.Templates()) || len(tmpls.Items) == 0 {
		t.Errorf("templates = %d", len(tmpls.Items))
	}
}

func TestSimulateAgainstRecordedDecisions(t *testing.T) {
	e := newEnv(t, nil)
	e.mustCall(domain.RolePolicyEditor, "PUT", "/api/v1/policies/wiki", draft{Source: goodPolicy}, 200, nil)
	var evs []store.AuditEvent
	for i, g := range []string{"eng", "sales", "eng"} {
		req, _ := json.Marshal(map[string]any{"subject": map[string]any{"groups": []string{g}}, "resource": map[string]string{"kind": "http", "name": "wiki"}})
		det, _ := json.Marshal(eventDetail{Request: req})
		evs = append(evs, store.AuditEvent{Actor: g, Action: "decision", Resource: "wiki", Effect: "x", EventID: string(rune('a' + i)), Detail: det})
	}
	e.st.AppendAudit(bg, evs)
	// The draft lets sales in too: two... one recorded request flips.
	widened := strings.Replace(goodPolicy, `'"eng" in subject.groups'`, `'"eng" in subject.groups || "sales" in subject.groups'`, 1)
	widened = strings.Replace(widened, "expect: deny", "expect: allow", 1)
	var sim Simulation
	e.mustCall(domain.RolePolicyEditor, "POST", "/api/v1/policies/simulate", draft{Name: "wiki", Source: widened}, 200, &sim)
	if sim.Report == nil || sim.Report.Total != 3 || sim.Report.Changed != 1 || sim.Report.NowAllowed != 1 {
		t.Fatalf("simulation = %+v", sim.Report)
	}
}

func TestResourcesUsersDevicesAndPagination(t *testing.T) {
	e := newEnv(t, nil)
	for _, n := range []string{"a", "b", "c"} {
		e.mustCall(domain.RoleOperator, "PUT", "/api/v1/resources/"+n, resourceRequest{Kind: "tcp", Address: "10.0.0.1", Port: 22}, 200, nil)
	}
	var p page[store.Resource]
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/resources?limit=2", nil, 200, &p)
	if len(p.Items) != 2 || p.NextCursor != "b" {
		t.Fatalf("page 1 = %+v", p)
	}
	cursor := p.NextCursor
	p = page[store.Resource]{}
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/resources?limit=2&cursor="+cursor, nil, 200, &p)
	if len(p.Items) != 1 || p.Items[0].Name != "c" || p.NextCursor != "" {
		t.Fatalf("page 2 = %+v", p)
	}
	e.mustCall(domain.RoleOperator, "PUT", "/api/v1/resources/d", resourceRequest{Kind: "ftp"}, 400, nil)

	var u store.User
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "eve@example.com", Name: "Eve", Role: domain.RoleViewer, Password: "correct horse battery"}, 201, &u)
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "eve@example.com", Role: domain.RoleViewer, Password: "correct horse battery"}, 409, nil)
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "x@example.com", Role: domain.RoleViewer, Password: "short"}, 400, nil)

	var en Enrolment
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "laptop", Owner: u.ID}, 201, &en)
	if en.PrivateKey == "" || !strings.Contains(en.Config, "PrivateKey = "+en.PrivateKey) || en.QR == "" || en.Device.Address != "100.64.0.2/32" {
		t.Fatalf("enrolment = %+v", en)
	}
	var en2 Enrolment
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "phone", Owner: u.ID, PublicKey: en.Device.PublicKey}, 409, nil)
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "phone", Owner: u.ID, PublicKey: "not-a-key"}, 400, nil)
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "phone", Owner: u.ID, PublicKey: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="}, 201, &en2)
	if en2.PrivateKey != "" || en2.Device.Address != "100.64.0.3/32" {
		t.Errorf("accepted-key enrolment = %+v", en2)
	}
	disabled := true
	var d store.Device
	e.mustCall(domain.RoleOperator, "PATCH", "/api/v1/devices/"+en.Device.ID, devicePatch{Disabled: &disabled}, 200, &d)
	if !d.Disabled {
		t.Error("device not disabled")
	}
}

func TestAuditAPI(t *testing.T) {
	e := newEnv(t, nil)
	e.mustCall(domain.RoleOperator, "PUT", "/api/v1/resources/=cmd", resourceRequest{Kind: "tcp"}, 400, nil)
	e.mustCall(domain.RoleOperator, "PUT", "/api/v1/resources/db", resourceRequest{Kind: "tcp", Address: "10.0.0.5:5432"}, 200, nil)
	var p page[store.AuditEvent]
	e.mustCall(domain.RoleAuditor, "GET", "/api/v1/audit?action=resource.put", nil, 200, &p)
	if len(p.Items) != 1 || p.Items[0].Resource != "db" || p.Items[0].Actor != e.keyActor(domain.RoleOperator) {
		t.Fatalf("audit = %+v", p.Items)
	}
	var rep store.VerifyReport
	e.mustCall(domain.RoleAuditor, "GET", "/api/v1/audit/verify", nil, 200, &rep)
	if !rep.OK || rep.Entries < 1 {
		t.Errorf("verify = %+v", rep)
	}
	resp := e.call(domain.RoleAuditor, "GET", "/api/v1/audit/export?format=csv&action=resource.put", nil, nil)
	body := readAll(resp)
	if !strings.HasPrefix(body, "seq,time,actor") || strings.Count(body, "\n") != 2 {
		t.Errorf("csv export = %q", body)
	}
	resp = e.call(domain.RoleAuditor, "GET", "/api/v1/audit/export?format=jsonl&action=resource.put", nil, nil)
	var one store.AuditEvent
	if err := json.Unmarshal([]byte(strings.TrimSpace(readAll(resp))), &one); err != nil || one.Resource != "db" {
		t.Errorf("jsonl export: %v %+v", err, one)
	}
	if csvSafe("=HYPERLINK()") != "'=HYPERLINK()" {
		t.Error("csv injection not defused")
	}
}

func TestAPIKeyRevocation(t *testing.T) {
	e := newEnv(t, nil)
	var kc keyCreated
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/apikeys", keyRequest{Name: "ci", Role: domain.RoleAuditor}, 201, &kc)
	e.keys["ci"] = kc.Secret
	e.mustCall("ci", "GET", "/api/v1/audit", nil, 200, nil)
	e.mustCall("ci", "GET", "/api/v1/apikeys", nil, 403, nil)
	e.mustCall(domain.RoleAdmin, "DELETE", "/api/v1/apikeys/"+kc.Key.ID, nil, 204, nil)
	e.mustCall("ci", "GET", "/api/v1/audit", nil, 401, nil)
	e.keys["forged"] = "gk_" + kc.Key.ID + ".wrong"
	e.mustCall("forged", "GET", "/api/v1/audit", nil, 401, nil)
}

func readAll(resp *http.Response) string {
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

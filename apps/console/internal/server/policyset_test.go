package server

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// closedWiki passes its own test alone, but with goodPolicy enabled it
// makes goodPolicy's "engineer" test fail: a deny wins over an allow.
const closedWiki = `description: the wiki is closed for maintenance
rules:
  - id: wiki-closed
    effect: deny
    resources: {kind: http, names: [wiki]}
tests:
  - name: closed
    request: {subject: {groups: [eng]}, resource: {kind: http, name: wiki}}
    expect: deny
`

// contractorsOut denies the wiki to contractors only: it fits goodPolicy.
const contractorsOut = `description: contractors stay out of the wiki
rules:
  - id: contractors-out
    effect: deny
    resources: {kind: http, names: [wiki]}
    when: '"contractors" in subject.groups'
tests:
  - name: contractor
    request: {subject: {groups: [eng, contractors]}, resource: {kind: http, name: wiki}}
    expect: deny
    rule: contractors-out
`

// guard's test passes alone (default deny) and with goodPolicy and
// contractorsOut, but not with goodPolicy alone.
const guard = `description: contractors never reach the wiki
rules:
  - id: status-page
    effect: allow
    resources: {kind: http, names: [status]}
tests:
  - name: contractor kept out
    request: {subject: {groups: [eng, contractors]}, resource: {kind: http, name: wiki}}
    expect: deny
`

// TestPolicySaveChecksWholeSet checks that a save, rollback or delete
// that would make the enabled policies fail as one set (as every gateway
// compiles them) is refused with the document and test that fail, and
// leaves the stored versions as they were.
func TestPolicySaveChecksWholeSet(t *testing.T) {
	e := newEnv(t, nil)
	e.mustCall(domain.RolePolicyEditor, "PUT", "/api/v1/policies/wiki", draft{Source: goodPolicy, Message: "v1"}, 200, nil)
	ver0, _ := e.st.ConfigVersion(bg)

	// Alone, closedWiki compiles and passes its tests; validation says
	// that, with the enabled policies, wiki's test would fail.
	var v Validation
	e.mustCall(domain.RoleViewer, "POST", "/api/v1/policies/validate", draft{Name: "maint", Source: closedWiki}, 200, &v)
	if v.OK || len(v.Diagnostics) != 0 || len(v.Tests) != 1 || !v.Tests[0].Passed || v.Set == nil || len(v.Set.Failed) != 1 || v.Set.Failed[0].Document != "wiki" {
		t.Fatalf("closedWiki validation = %+v (set %+v)", v, v.Set)
	}
	// The editor's live validation shows it too.
	resp := e.form(domain.RoleViewer, "/ui/policies/validate", url.Values{"name": {"maint"}, "source": {closedWiki}})
	panel, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(panel), "with the enabled policies, policy &#34;wiki&#34;") && !strings.Contains(string(panel), `with the enabled policies, policy "wiki"`) {
		t.Errorf("editor panel lacks the set's failure:\n%s", panel)
	}
	// With goodPolicy, it breaks goodPolicy's test: refused, nothing stored.
	var bad invalidPolicy
	e.mustCall(domain.RolePolicyEditor, "PUT", "/api/v1/policies/maint", draft{Source: closedWiki}, 422, &bad)
	set := bad.Validation.Set
	if bad.Code != "invalid_policy" || set == nil || set.OK || len(set.Failed) != 1 || set.Failed[0].Document != "wiki" || set.Failed[0].Name != "engineer" {
		t.Fatalf("refusal = %+v (set %+v)", bad, set)
	}
	for _, want := range []string{`policy "wiki"`, `test "engineer"`, "every gateway would refuse"} {
		if !strings.Contains(bad.Message, want) {
			t.Errorf("message %q lacks %q", bad.Message, want)
		}
	}
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/policies/maint", nil, 404, nil)
	if v, _ := e.st.ConfigVersion(bg); v != ver0 {
		t.Errorf("config version moved from %d to %d on a refused save", ver0, v)
	}

	// The page form refuses it too, saying which document and test.
	resp = e.form(domain.RolePolicyEditor, "/policies/save", url.Values{"name": {"maint"}, "source": {closedWiki}, "message": {"close"}})
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "engineer") || !strings.Contains(string(body), "wiki") {
		t.Errorf("page save: %d, body lacks the failing test", resp.StatusCode)
	}
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/policies/maint", nil, 404, nil)

	// A policy that fits the set is accepted.
	e.mustCall(domain.RolePolicyEditor, "PUT", "/api/v1/policies/maint", draft{Source: contractorsOut, Message: "v1"}, 200, nil)
	e.mustCall(domain.RolePolicyEditor, "PUT", "/api/v1/policies/guard", draft{Source: guard, Message: "v1"}, 200, nil)

	// Deleting (no longer enforcing) the document guard's test relies on
	// is refused.
	e.mustCall(domain.RolePolicyEditor, "DELETE", "/api/v1/policies/maint", nil, 422, &bad)
	if bad.Validation.Set == nil || len(bad.Validation.Set.Failed) != 1 || bad.Validation.Set.Failed[0].Document != "guard" || bad.Validation.Set.Failed[0].Name != "contractor kept out" {
		t.Errorf("delete refusal = %+v", bad.Validation.Set)
	}
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/policies/maint", nil, 200, nil)

	// Rolling maint back to a version that breaks the set is refused.
	// maint v2 is closedWiki, saved while wiki was not enforced.
	e.mustCall(domain.RolePolicyEditor, "DELETE", "/api/v1/policies/wiki", nil, 204, nil)
	e.mustCall(domain.RolePolicyEditor, "PUT", "/api/v1/policies/maint", draft{Source: closedWiki, Message: "v2: closed"}, 200, nil)
	e.mustCall(domain.RolePolicyEditor, "PUT", "/api/v1/policies/maint", draft{Source: contractorsOut, Message: "v3: contractors only"}, 200, nil)
	e.mustCall(domain.RolePolicyEditor, "PUT", "/api/v1/policies/wiki", draft{Source: goodPolicy, Message: "back"}, 200, nil)
	ver1, _ := e.st.ConfigVersion(bg)
	e.mustCall(domain.RolePolicyEditor, "POST", "/api/v1/policies/maint/rollback", rollbackRequest{Version: 2}, 422, &bad)
	if bad.Validation.Set == nil || len(bad.Validation.Set.Failed) != 1 || bad.Validation.Set.Failed[0].Document != "wiki" {
		t.Errorf("rollback refusal = %+v", bad.Validation.Set)
	}
	var cur store.Policy
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/policies/maint", nil, 200, &cur)
	if cur.Version != 3 || cur.Source != contractorsOut {
		t.Errorf("maint after a refused rollback: version %d", cur.Version)
	}
	if v, _ := e.st.ConfigVersion(bg); v != ver1 {
		t.Errorf("config version moved on a refused rollback")
	}
	// The history page's rollback form says why.
	resp = e.form(domain.RolePolicyEditor, "/policies/maint/rollback", url.Values{"version": {"2"}, "confirm": {"yes"}})
	if f := e.formFlash(resp, domain.RolePolicyEditor); resp.StatusCode != http.StatusSeeOther || f.kind != flashError || !strings.Contains(f.text, "engineer") {
		t.Errorf("page rollback: %d with %+v", resp.StatusCode, f)
	}
}

package domain

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// serviceForTest is a Service over a fresh SQLite store, with the store
// for checking what the operations wrote.
func serviceForTest(t *testing.T) (*Service, *store.DB) {
	t.Helper()
	st := storetest.SQLite(t)
	s, err := New(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

var ann = Actor{ID: "u-ann", UserID: "u-ann", Role: RolePolicyEditor, Name: "ann@example.com"}

// auditOf returns the audit entries with action, oldest first.
func auditOf(t *testing.T, st store.Store, action string) []store.AuditEvent {
	t.Helper()
	es, err := st.ListAudit(context.Background(), store.AuditFilter{Action: action, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
		es[i], es[j] = es[j], es[i]
	}
	return es
}

func detailOf(t *testing.T, e store.AuditEvent) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Detail, &m); err != nil {
		t.Fatalf("detail of %s: %v", e.Action, err)
	}
	return m
}

const wikiPolicy = `description: engineers reach the wiki
rules:
  - id: eng-wiki
    effect: allow
    resources: {kind: http, names: [wiki]}
    when: '"eng" in subject.groups'
tests:
  - name: engineer
    request: {subject: {groups: [eng]}, resource: {kind: http, name: wiki}}
    expect: allow
`

// contractorsOut denies the wiki to contractors; guardPolicy's test
// passes alone (default deny) and with wiki and contractorsOut, but not
// with wiki alone.
const contractorsOut = `description: contractors stay out of the wiki
rules:
  - id: contractors-out
    effect: deny
    resources: {kind: http, names: [wiki]}
    when: '"contractors" in subject.groups'
`

const guardPolicy = `description: contractors never reach the wiki
rules:
  - id: status-page
    effect: allow
    resources: {kind: http, names: [status]}
tests:
  - name: contractor kept out
    request: {subject: {groups: [eng, contractors]}, resource: {kind: http, name: wiki}}
    expect: deny
`

func TestSavePolicyValidatesAndRecordsOnce(t *testing.T) {
	s, st := serviceForTest(t)
	ctx := context.Background()

	broken := strings.Replace(wikiPolicy, "subject.groups", "subject.grups", 1)
	_, err := s.SavePolicy(ctx, ann, PolicyChange{Name: "wiki", Source: broken})
	var ve *InvalidPolicyError
	if !errors.As(err, &ve) || ve.Validation.OK || len(ve.Validation.Diagnostics) == 0 {
		t.Fatalf("save of a broken policy: %v", err)
	}
	var inv *InvalidError
	if !errors.As(err, &inv) || inv.Field != "source" {
		t.Errorf("a refused policy is not invalid input about the source: %v", err)
	}
	if _, err := st.Policy(ctx, "wiki"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused policy was stored: %v", err)
	}

	pv, err := s.SavePolicy(ctx, ann, PolicyChange{Name: "wiki", Source: wikiPolicy, Message: "first"})
	if err != nil || pv.Version != 1 || pv.Author != "ann@example.com" {
		t.Fatalf("save = %+v, %v", pv, err)
	}
	es := auditOf(t, st, "policy.save")
	if len(es) != 1 || es[0].Actor != ann.ID || es[0].Resource != "wiki" {
		t.Fatalf("policy.save entries = %+v", es)
	}
	if d := detailOf(t, es[0]); d["version"] != float64(1) || d["message"] != "first" {
		t.Errorf("policy.save detail = %v", d)
	}

	if _, err := s.SavePolicy(ctx, ann, PolicyChange{Name: "bad name!", Source: contractorsOut}); !errors.As(err, &inv) || errors.As(err, &ve) {
		t.Errorf("save under a name the store refuses: %v", err)
	}
}

func TestPolicySetChecks(t *testing.T) {
	s, st := serviceForTest(t)
	ctx := context.Background()
	if _, err := s.SavePolicy(ctx, ann, PolicyChange{Name: "wiki", Source: wikiPolicy}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SavePolicy(ctx, ann, PolicyChange{Name: "contractors", Source: contractorsOut}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SavePolicy(ctx, ann, PolicyChange{Name: "guard", Source: guardPolicy}); err != nil {
		t.Fatal(err)
	}
	// Deleting contractors would fail guard's test against the set.
	err := s.DeletePolicy(ctx, ann, "contractors")
	var ve *InvalidPolicyError
	if !errors.As(err, &ve) || ve.Validation.Set == nil || len(ve.Validation.Set.Failed) != 1 || ve.Validation.Set.Failed[0].Document != "guard" {
		t.Fatalf("delete of a policy another relies on: %v", err)
	}
	if !strings.Contains(err.Error(), `policy "guard"`) {
		t.Errorf("refusal %q does not name the document", err)
	}
	if es := auditOf(t, st, "policy.delete"); len(es) != 0 {
		t.Errorf("a refused delete was recorded: %+v", es)
	}
	// A draft validated in place of contractors says the same before a
	// save.
	v := s.ValidatePolicy(ctx, ann, "contractors", "rules: []\n")
	if v.OK || v.Set == nil || v.Set.OK {
		t.Errorf("validation of an empty contractors = %+v", v)
	}

	if err := s.DeletePolicy(ctx, ann, "guard"); err != nil {
		t.Fatal(err)
	}
	if es := auditOf(t, st, "policy.delete"); len(es) != 1 || es[0].Resource != "guard" || es[0].Actor != ann.ID {
		t.Errorf("policy.delete entries = %+v", es)
	}
	if err := s.DeletePolicy(ctx, ann, "guard"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete of a deleted policy: %v", err)
	}
}

func TestRollbackPolicy(t *testing.T) {
	s, st := serviceForTest(t)
	ctx := context.Background()
	if _, err := s.SavePolicy(ctx, ann, PolicyChange{Name: "wiki", Source: wikiPolicy}); err != nil {
		t.Fatal(err)
	}
	second := strings.Replace(wikiPolicy, "engineers reach", "engineers may reach", 1)
	if _, err := s.SavePolicy(ctx, ann, PolicyChange{Name: "wiki", Source: second}); err != nil {
		t.Fatal(err)
	}
	var inv *InvalidError
	if _, err := s.RollbackPolicy(ctx, ann, "wiki", 2); !errors.As(err, &inv) || inv.Field != "" || !strings.Contains(inv.Message, "already the current version") {
		t.Errorf("rollback to the current version: %v", err)
	}
	if _, err := s.RollbackPolicy(ctx, ann, "wiki", 9); !errors.Is(err, ErrNotFound) {
		t.Errorf("rollback to a version that does not exist: %v", err)
	}
	pv, err := s.RollbackPolicy(ctx, ann, "wiki", 1)
	if err != nil || pv.Version != 3 || pv.Source != wikiPolicy || pv.Message != "rollback to version 1" {
		t.Fatalf("rollback = %+v, %v", pv, err)
	}
	es := auditOf(t, st, "policy.rollback")
	if len(es) != 1 {
		t.Fatalf("policy.rollback entries = %+v", es)
	}
	if d := detailOf(t, es[0]); d["to"] != float64(1) || d["version"] != float64(3) {
		t.Errorf("policy.rollback detail = %v", d)
	}
	d, err := s.PolicyDiff(ctx, ann, "wiki", 0, 0)
	if err != nil || d.From != 2 || d.To != 3 {
		t.Fatalf("diff = %+v, %v", d, err)
	}
	if _, err := s.PolicyDiff(ctx, ann, "nope", 0, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("diff of no policy: %v", err)
	}
}

func TestDiffLines(t *testing.T) {
	got := diffLines("a\nb\nc", "a\nx\nc")
	want := []DiffLine{{" ", "a"}, {"-", "b"}, {"+", "x"}, {" ", "c"}}
	if len(got) != len(want) {
		t.Fatalf("diff = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestSimulatePolicy(t *testing.T) {
	s, st := serviceForTest(t)
	ctx := context.Background()
	if _, err := s.SavePolicy(ctx, ann, PolicyChange{Name: "wiki", Source: wikiPolicy}); err != nil {
		t.Fatal(err)
	}
	var evs []store.AuditEvent
	for i, g := range []string{"eng", "sales"} {
		req, _ := json.Marshal(map[string]any{"subject": map[string]any{"groups": []string{g}}, "resource": map[string]string{"kind": "http", "name": "wiki"}})
		det, _ := json.Marshal(map[string]any{"request": json.RawMessage(req)})
		evs = append(evs, store.AuditEvent{Time: time.Now(), Actor: g, Action: "decision", Resource: "wiki", Effect: "x", EventID: string(rune('a' + i)), Detail: det})
	}
	evs = append(evs, store.AuditEvent{Time: time.Now(), Actor: "x", Action: "decision", Resource: "wiki", EventID: "c", Detail: []byte(`{"rule":"r"}`)})
	if _, _, err := st.AppendAudit(ctx, evs); err != nil {
		t.Fatal(err)
	}
	widened := strings.Replace(wikiPolicy, `'"eng" in subject.groups'`, `'"eng" in subject.groups || "sales" in subject.groups'`, 1)
	sim, err := s.SimulatePolicy(ctx, ann, SimulateDraft{Name: "wiki", Source: widened})
	if err != nil || sim.Report == nil {
		t.Fatalf("simulation = %+v, %v", sim, err)
	}
	if sim.Report.Total != 2 || sim.Report.NowAllowed != 1 || sim.Unreplayable[UnreplayableMissing] != 1 {
		t.Errorf("report = %+v, unreplayable %v", sim.Report, sim.Unreplayable)
	}
	sim, err = s.SimulatePolicy(ctx, ann, SimulateDraft{Source: "rules: ["})
	if err != nil || sim.Report != nil || sim.Validation.OK || sim.Unreplayable != nil {
		t.Errorf("simulation of a broken draft = %+v, %v", sim, err)
	}
}

func TestPolicyStartAvoidsTakenNames(t *testing.T) {
	s, st := serviceForTest(t)
	ctx := context.Background()
	for _, tpl := range Templates() {
		if _, err := st.SavePolicy(ctx, tpl.Name, "rules: []\n", "test", ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.SavePolicy(ctx, "new-policy", "rules: []\n", "test", ""); err != nil {
		t.Fatal(err)
	}
	name, source := s.PolicyStart(ctx, ann)
	if name != "new-policy-2" || source != blankPolicy {
		t.Errorf("start = %q", name)
	}
	if v := s.ValidatePolicy(ctx, ann, name, source); !v.OK {
		t.Errorf("the blank policy does not validate: %+v", v)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// gw runs the gateway binary's main in-process.
func gw(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runMain(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const cliPolicy = `
rules:
  - id: eng
    effect: allow
    when: '"eng" in subject.groups'
tests:
  - name: eng allowed
    request: {subject: {groups: [eng]}}
    expect: allow
`

func TestPolicyCheck(t *testing.T) {
	good := writeFile(t, "good.yaml", cliPolicy)
	code, out, errs := gw(t, "policy", "check", good)
	if code != 0 || !strings.Contains(out, "ok: 1 rule, 1 test passed") {
		t.Fatalf("check good: code %d, out %q, err %q", code, out, errs)
	}
	typo := writeFile(t, "typo.yaml", "rules:\n  - id: eng\n    effect: allow\n    when: subject.mfa == 1\n")
	code, _, errs = gw(t, "policy", "check", typo)
	if code != 1 || !strings.Contains(errs, typo+":4:") || !strings.Contains(errs, "no matching overload") {
		t.Fatalf("check typo: code %d, err %q", code, errs)
	}
	// A YAML mistake is reported on its own line, not on the line of the
	// sequence that holds it.
	indent := writeFile(t, "indent.yaml", "rules:\n  - id: eng\n    effect: allow\n   when: 'true'\n")
	code, _, errs = gw(t, "policy", "check", indent)
	if code != 1 || !strings.Contains(errs, indent+":4:4:") {
		t.Fatalf("check indentation: code %d, err %q", code, errs)
	}
	failing := writeFile(t, "failing.yaml", strings.Replace(cliPolicy, "expect: allow", "expect: deny", 1))
	code, _, errs = gw(t, "policy", "check", failing)
	if code != 1 || !strings.Contains(errs, "1 of 1 tests failed") || !strings.Contains(errs, failing+":7:") {
		t.Fatalf("check failing: code %d, err %q", code, errs)
	}
	code, _, errs = gw(t, "policy", "check", filepath.Join(t.TempDir(), "missing.yaml"))
	if code != 1 || !strings.Contains(errs, "no such file") {
		t.Fatalf("check missing: code %d, err %q", code, errs)
	}
	if code, _, _ := gw(t, "policy", "check"); code != 2 {
		t.Fatalf("check without files: code %d, want 2", code)
	}
}

func TestShippedExamplesCheck(t *testing.T) {
	files, _ := filepath.Glob("../../examples/policies/*.yaml")
	if len(files) < 3 {
		t.Fatalf("found %d example policies", len(files))
	}
	for _, f := range files {
		if code, _, errs := gw(t, "policy", "check", f); code != 0 {
			t.Errorf("%s: %s", f, errs)
		}
	}
}

func TestPolicyEval(t *testing.T) {
	pol := writeFile(t, "p.yaml", cliPolicy)
	req := writeFile(t, "r.json", `{"subject":{"id":"a","groups":["eng"]}}`)
	code, out, errs := gw(t, "policy", "eval", "--policy", pol, "--request", req)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	var d struct{ Effect, Rule string }
	if err := json.Unmarshal([]byte(out), &d); err != nil || d.Effect != "allow" || d.Rule != "eng" {
		t.Fatalf("decision %q (%v)", out, err)
	}

	reqs := writeFile(t, "r.jsonl", `{"subject":{"groups":["eng"]}}

{"subject":{"groups":["hr"]}}
{"subject":{"grups":["x"]}}
`)
	code, out, errs = gw(t, "policy", "eval", "--policy", pol, "--requests", reqs, "--explain")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 1 || len(lines) != 3 {
		t.Fatalf("code %d, %d lines: %s / %s", code, len(lines), out, errs)
	}
	if !strings.Contains(lines[0], `"effect":"allow"`) || !strings.Contains(lines[1], `"effect":"deny"`) || !strings.Contains(lines[1], "denied by default") {
		t.Errorf("decisions %q", lines[:2])
	}
	if !strings.Contains(lines[2], `"line":4`) || !strings.Contains(errs, reqs+":4:") || !strings.Contains(errs, "grups") {
		t.Errorf("bad line not reported with its number: %q / %q", lines[2], errs)
	}
	for _, args := range [][]string{
		{"policy", "eval", "--request", req},
		{"policy", "eval", "--policy", pol},
		{"policy", "eval", "--policy", pol, "--request", req, "--requests", reqs},
		{"policy", "eval", "--policy", pol, "--bogus"},
	} {
		if code, _, _ := gw(t, args...); code != 2 {
			t.Errorf("%v: code %d, want 2", args, code)
		}
	}
}

func TestPolicySimulate(t *testing.T) {
	from := writeFile(t, "from.yaml", "rules: [{id: eng, effect: allow, when: '\"eng\" in subject.groups'}]\n")
	to1 := writeFile(t, "to1.yaml", "rules: [{id: eng-mfa, effect: allow, when: '\"eng\" in subject.groups && subject.mfa'}]\n")
	to2 := writeFile(t, "to2.yaml", "rules: [{id: hr, effect: allow, when: '\"hr\" in subject.groups'}]\n")
	reqs := writeFile(t, "r.jsonl", `{"subject":{"id":"ann","groups":["eng"],"mfa":true}}
{"subject":{"id":"bob","groups":["eng"]}}
{"subject":{"id":"cat","groups":["hr"]}}
{"subject":{"id":"dan","groups":["ops"]}}
`)
	// Several --to files after one flag, as a shell glob expands.
	code, out, errs := gw(t, "policy", "simulate", "--from", from, "--to", to1, to2, "--requests", reqs)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	for _, want := range []string{"4 requests, 3 would change: 1 now allowed, 1 now denied, 1 decided by another rule", "bob", "allow (eng)", "deny (default)", "cat"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "dan") {
		t.Errorf("unchanged request listed:\n%s", out)
	}
	code, out, _ = gw(t, "policy", "simulate", "--from", from, "--to", to1, "--to", to2, "--requests", reqs, "--json")
	var rep struct {
		Total, Changed int
		Changes        []struct{ Index int }
	}
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || rep.Total != 4 || rep.Changed != 3 || len(rep.Changes) != 3 {
		t.Fatalf("json report (code %d, %v): %s", code, err, out)
	}
}

func TestPolicyTemplates(t *testing.T) {
	code, out, _ := gw(t, "policy", "templates")
	for _, name := range []string{"enterprise", "small-business", "iot"} {
		if code != 0 || !strings.Contains(out, name) {
			t.Errorf("templates list lacks %s: %s", name, out)
		}
	}
	code, out, _ = gw(t, "policy", "template", "iot")
	if code != 0 || !strings.Contains(out, "rules:") {
		t.Errorf("template iot: %d %s", code, out)
	}
	if code, _, errs := gw(t, "policy", "template", "../etc/passwd"); code != 1 || !strings.Contains(errs, "no template") {
		t.Errorf("template traversal: %d %s", code, errs)
	}
}

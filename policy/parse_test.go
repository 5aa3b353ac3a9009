package policy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/policy"
)

// diag parses and compiles src and returns the first diagnostic.
func diag(t *testing.T, src string) policy.Diagnostic {
	t.Helper()
	doc, err := policy.Parse("p.yaml", []byte(src))
	if err == nil {
		_, err = policy.Compile([]*policy.Document{doc}, nil)
	}
	var ds *policy.Diagnostics
	if !errors.As(err, &ds) || len(ds.List) == 0 {
		t.Fatalf("want diagnostics, got %v", err)
	}
	return ds.List[0]
}

func TestDiagnosticsHavePositions(t *testing.T) {
	cases := []struct {
		name      string
		src       string
		line, col int
		msg       string
	}{
		{"yaml syntax", "rules:\n  - id: a\n    effect: [allow\n", 3, 5, "did not find expected"},
		{"yaml indentation", "description: d\nrules:\n  - id: a\n   effect: allow\n", 4, 4, "did not find expected"},
		{"yaml tab", "rules:\n  - id: a\n\teffect: allow\n", 3, 1, "tab"},
		{"yaml mapping in value", "rules:\n  - id: a\n    effect: allow\n    when: a: b\n", 4, 5, "mapping values"},
		{"yaml key without colon", "rules:\n  - id: a\n    effect: allow\n    when\n  - id: b\n", 4, 5, "could not find expected ':'"},
		{"yaml unclosed quote", "rules:\n  - id: a\n    effect: allow\n    when: 'subject.mfa\n", 4, 5, "end of stream"},
		{"unknown top-level key", "rules: []\nrulez: []\n", 2, 1, `unknown key "rulez"`},
		{"unknown rule key", "rules:\n  - id: a\n    effect: allow\n    wen: 'true'\n", 4, 5, `unknown key "wen"`},
		{"bad effect", "rules:\n  - id: a\n    effect: permit\n", 3, 13, "effect must be allow or deny"},
		{"missing id", "rules:\n  - effect: allow\n", 2, 5, "needs an id"},
		{"bad kind", "rules:\n  - id: a\n    effect: allow\n    resources: {kind: ftp}\n", 4, 23, `kind "ftp"`},
		{"wrong type", "rules:\n  - id: a\n    effect: allow\n    obligations: {require_mfa: 'yes'}\n", 4, 32, "must be true or false"},
		{"bad duration", "rules:\n  - id: a\n    effect: allow\n    obligations: {max_session: forever}\n", 4, 32, "positive duration"},
		{"duplicate key", "rules:\n  - id: a\n    id: b\n    effect: allow\n", 3, 5, "duplicate key"},
		{"alias", "x: &a 1\nrules: []\ny: *a\n", 3, 4, "aliases are not supported"},
		{"two documents", "rules: []\n---\nrules: []\n", 2, 1, "more than one YAML document"},
		{"not a mapping", "- 1\n- 2\n", 1, 1, "must be a mapping"},
		{"cel syntax in plain scalar", "rules:\n  - id: a\n    effect: allow\n    when: subject.mfa &&\n", 4, 25, "Syntax error"},
		{"cel undeclared field", "rules:\n  - id: a\n    effect: allow\n    when: subject.mfaa\n", 4, 18, "undefined field 'mfaa'"},
		{"cel in quoted scalar", "rules:\n  - id: a\n    effect: allow\n    when: \"subject.grups.size() > 0\"\n", 4, 19, "undefined field 'grups'"},
		{"cel in block scalar", "rules:\n  - id: a\n    effect: allow\n    when: |\n      subject.mfa &&\n      device.managd\n", 6, 13, "undefined field 'managd'"},
		{"cel not bool", "rules:\n  - id: a\n    effect: allow\n    when: risk.score + 1\n", 4, 11, "must be a bool"},
		{"cel type error", "rules:\n  - id: a\n    effect: allow\n    when: risk.score == 'high'\n", 4, 22, "no matching overload"},
		{"duplicate rule id", "rules:\n  - id: a\n    effect: allow\n  - id: a\n    effect: deny\n", 4, 5, "duplicate rule id"},
		{"too expensive", "rules:\n  - id: a\n    effect: allow\n    when: subject.groups.all(g, subject.roles.all(r, device.attributes.all(k, k + g + r != '')))\n", 4, 11, "may cost up to"},
		{"empty document", "", 1, 1, "empty"},
		{"no rules", "description: nothing\n", 1, 1, "no rules key"},
		{"bad test request field", "rules: []\ntests:\n  - name: t\n    expect: deny\n    request: {subjekt: {}}\n", 5, 14, `unknown field "subjekt"`},
		{"bad test expect", "rules: []\ntests:\n  - name: t\n    expect: maybe\n    request: {}\n", 4, 13, "expect must be allow or deny"},
		{"failing test", "rules:\n  - id: a\n    effect: allow\ntests:\n  - name: t\n    expect: deny\n    request: {}\n", 5, 0, `expected deny, got allow by rule "a"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := diag(t, c.src)
			if d.Line != c.line || d.Column != c.col {
				t.Errorf("position %d:%d, want %d:%d (%s)", d.Line, d.Column, c.line, c.col, d)
			}
			if !strings.Contains(d.String(), c.msg) {
				t.Errorf("diagnostic %q does not mention %q", d, c.msg)
			}
			if !strings.HasPrefix(d.String(), "p.yaml:") {
				t.Errorf("diagnostic %q does not start with the file name", d)
			}
		})
	}
}

func TestDiagnosticKinds(t *testing.T) {
	_, err := policy.Parse("p.yaml", []byte("rules: 3\n"))
	if !errors.Is(err, policy.ErrInvalid) {
		t.Errorf("invalid document: %v does not wrap ErrInvalid", err)
	}
	doc, err := policy.Parse("p.yaml", []byte("rules: []\ntests:\n  - {name: t, expect: allow, request: {}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = policy.Compile([]*policy.Document{doc}, nil)
	if !errors.Is(err, policy.ErrTestsFailed) || errors.Is(err, policy.ErrInvalid) {
		t.Errorf("failing test: %v should wrap ErrTestsFailed only", err)
	}
	if _, err := policy.Compile([]*policy.Document{doc}, &policy.CompileOptions{SkipTests: true}); err != nil {
		t.Errorf("SkipTests: %v", err)
	}
}

func TestLimits(t *testing.T) {
	huge := make([]byte, policy.MaxDocumentBytes+1)
	if _, err := policy.Parse("big.yaml", huge); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("huge document: %v", err)
	}
	deep := "rules: []\ntests:\n  - name: t\n    expect: deny\n    request: " + strings.Repeat("{a: ", 100) + "1" + strings.Repeat("}", 100) + "\n"
	if _, err := policy.Parse("deep.yaml", []byte(deep)); err == nil || !strings.Contains(err.Error(), "nesting") {
		t.Errorf("deep document: %v", err)
	}
	long := "rules:\n  - id: a\n    effect: allow\n    when: '" + strings.Repeat("true && ", 3000) + "true'\n"
	if _, err := policy.Parse("long.yaml", []byte(long)); err == nil {
		t.Error("overlong condition accepted")
	}
	nested := "rules:\n  - id: a\n    effect: allow\n    when: '" + strings.Repeat("(", 200) + "true" + strings.Repeat(")", 200) + "'\n"
	doc, err := policy.Parse("nested.yaml", []byte(nested))
	if err == nil {
		_, err = policy.Compile([]*policy.Document{doc}, nil)
	}
	if err == nil {
		t.Error("deeply nested condition accepted")
	}
}

func TestParseRequest(t *testing.T) {
	r, err := policy.ParseRequest([]byte(`{"subject":{"id":"u1","groups":["a"],"mfa":true,"auth_time":"2026-01-02T03:04:05Z"},
		"source":{"ip":"10.0.0.1","country":"DE","asn":3320},
		"resource":{"kind":"usb","name":"k","vendor_id":4966,"product_id":257,"bus_id":"1-1"},
		"time":"2026-01-02T10:00:00+01:00","risk":{"score":40,"signals":["new_device"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject.ID != "u1" || !r.Subject.MFA || r.Source.ASN != 3320 || r.Resource.VendorID != 4966 || r.Risk.Score != 40 || r.Time.Hour() != 10 {
		t.Errorf("decoded %+v", r)
	}
	bad := map[string]string{
		"unknown field":  `{"subject":{"name":"x"}}`,
		"wrong type":     `{"subject":{"mfa":"yes"}}`,
		"syntax":         `{"subject":`,
		"trailing data":  `{} {}`,
		"bad kind":       `{"resource":{"kind":"smtp"}}`,
		"score too high": `{"risk":{"score":101}}`,
		"bad time":       `{"time":"yesterday"}`,
	}
	for name, src := range bad {
		if _, err := policy.ParseRequest([]byte(src)); err == nil {
			t.Errorf("%s: accepted %s", name, src)
		}
	}
	if _, err := policy.ParseRequest([]byte("{\n  \"subject\": {\"mfa\": \"yes\"}}")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("type error without line: %v", err)
	}
}

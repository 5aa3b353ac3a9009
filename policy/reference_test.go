package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"cel.dev/cel-go/common/types"
)

// referenceConditions are conditions for FuzzDecideMatchesPlainCEL beyond
// the fast path's: constant collections around parts that can fail, which
// an optimiser is tempted to decide without evaluating them.
var referenceConditions = []string{
	`subject.attributes["team"] in {}`,
	`"web" in ["web", subject.attributes["team"]]`,
	`"web" in {"web": subject.attributes["team"]}`,
	`time.getHours("No/Such_Zone") in []`,
	`time.getHours("No/Such_Zone") in [1, 2]`,
	`(time - subject.auth_time) in []`,
	`!(subject.attributes["team"] in [])`,
	`[subject.attributes["team"]].size() == 1`,
	`{"k": subject.attributes["team"]}.size() == 1`,
	`true || subject.attributes["team"] == "x"`,
	`subject.attributes["team"] == "x" && false`,
	`subject.groups.exists(g, g == subject.attributes["team"])`,
	`size(subject.attributes) > 0 && subject.attributes["team"] in ["web", "ops"]`,
	`duration("1h") > duration("2h") || subject.attributes["team"] in []`,
	`int("nope") in []`,
	`subject.email.matches("^a@") || subject.attributes["team"] in []`,
	`subject.attributes["team"].matches("^w") && subject.email.matches("b$")`,
	`[time.getHours()][0] < 6 || [subject.auth_time.getHours()][0] == 23`,
	`time.getHours() < 6 || subject.auth_time.getHours() == 23 || device.posture_time.getDayOfWeek() == 1`,
}

// reference evaluates cond as plain cel-go does: the checked AST, no
// folding, no optimisation, the request's structs as the variables.
func reference(t testing.TB, cond string) func(*Request) (bool, error) {
	t.Helper()
	prg, _ := plainProgram(t, cond)
	return func(r *Request) (bool, error) {
		out, _, err := prg.Eval(map[string]any{
			"subject": &r.Subject, "device": &r.Device, "source": &r.Source,
			"resource": &r.Resource, "time": types.Timestamp{Time: r.Time}, "risk": &r.Risk,
		})
		if err != nil {
			return false, err
		}
		b, ok := out.(types.Bool)
		if !ok {
			return false, fmt.Errorf("not a bool: %v", out)
		}
		return bool(b), nil
	}
}

// FuzzDecideMatchesPlainCEL decides requests with sets built by Compile —
// fast path, shared programs and all — and checks every decision, and
// whether the condition failed, against plain cel-go. Each condition is
// tried as a deny rule before an allow-everything rule (a failure denies)
// and as the only allow rule (a failure does not allow).
func FuzzDecideMatchesPlainCEL(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("some bytes that pick several branches of every field"))
	f.Add([]byte{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 0, 5, 0, 0, 1, 4, 4, 4, 4, 4, 4, 4, 4, 4})
	type check struct {
		src         string
		ref         func(*Request) (bool, error)
		deny, allow *Set
	}
	var checks []check
	for _, c := range append(append([]string(nil), fastConditions...), referenceConditions...) {
		q := "'" + strings.ReplaceAll(c, "'", "''") + "'"
		deny := mustCompile(f, "rules:\n  - {id: c, effect: deny, when: "+q+"}\n  - {id: all, effect: allow}\n")
		allow := mustCompile(f, "rules:\n  - {id: c, effect: allow, when: "+q+"}\n")
		checks = append(checks, check{c, reference(f, c), deny, allow})
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := fuzzRequest(data)
		for _, c := range checks {
			want, refErr := c.ref(r)
			for _, s := range []*Set{c.deny, c.allow} {
				d := s.Decide(context.Background(), r)
				wantEffect := Deny
				if s == c.deny && !want && refErr == nil {
					wantEffect = Allow
				}
				if s == c.allow && want && refErr == nil {
					wantEffect = Allow
				}
				if d.Effect != wantEffect || (len(d.Errors) > 0) != (refErr != nil) {
					t.Fatalf("%s\nrequest %+v\nplain CEL %v, %v; decided %s (%s)", c.src, r, want, refErr, d.Effect, d.Explain())
				}
			}
		}
	})
}

func mustCompile(t testing.TB, src string) *Set {
	t.Helper()
	d, err := Parse("ref.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Compile([]*Document{d}, &CompileOptions{MaxCost: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

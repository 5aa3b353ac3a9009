package policy

import (
	"context"
	"fmt"
)

// A TestResult is the outcome of one document test.
type TestResult struct {
	Document string
	Name     string
	// Line is where the test starts in its document.
	Line     int
	Passed   bool
	Expect   Effect
	Rule     string // the rule the test expects to decide, if any
	Decision Decision
}

// Failure says what went wrong with a failed test, in one line.
func (t TestResult) Failure() string {
	if t.Passed {
		return ""
	}
	got := t.Decision.Rule
	if got == "" {
		got = "no rule (default deny)"
	} else {
		got = fmt.Sprintf("rule %q", got)
	}
	if t.Decision.Effect != t.Expect {
		return fmt.Sprintf("test %q: expected %s, got %s by %s", t.Name, t.Expect, t.Decision.Effect, got)
	}
	return fmt.Sprintf("test %q: expected rule %q to decide, got %s", t.Name, t.Rule, got)
}

// Tests runs every test of every document of the set against the whole set
// and reports each result. A test's zero request time is taken as now.
func (s *Set) Tests(ctx context.Context) []TestResult {
	var out []TestResult
	for _, doc := range s.source {
		for i := range doc.Tests {
			t := &doc.Tests[i]
			d := s.Decide(ctx, &t.Request)
			pass := d.Effect == t.Expect && (t.Rule == "" || t.Rule == d.Rule)
			out = append(out, TestResult{
				Document: doc.Name, Name: t.Name, Line: t.line,
				Passed: pass, Expect: t.Expect, Rule: t.Rule, Decision: d,
			})
		}
	}
	return out
}

// RunTests runs the documents' tests and returns *Diagnostics wrapping
// ErrTestsFailed if any fails. Compile calls it unless told not to.
func (s *Set) RunTests() error {
	diags := &Diagnostics{kind: ErrTestsFailed}
	for _, r := range s.Tests(context.Background()) {
		if !r.Passed {
			diags.add(r.Document, r.Line, 0, "", "%s", r.Failure())
		}
	}
	return diags.err()
}

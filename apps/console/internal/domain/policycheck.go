package domain

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gonaut/gonaut/policy"
)

// Diagnostic is one policy problem at a line and column. Document names
// the policy it is in when that is not the draft (a check of the whole
// enabled set).
type Diagnostic struct {
	Document string
	Line     int
	Column   int
	Rule     string
	Message  string
}

// TestOutcome is one policy test's result; Document is the policy the
// test is in (set only in a check of the whole enabled set).
type TestOutcome struct {
	Document string
	Name     string
	Line     int
	Passed   bool
	Failure  string
}

// Validation is what the editor shows for a draft.
type Validation struct {
	OK          bool
	Diagnostics []Diagnostic
	Tests       []TestOutcome
	Rules       int
	// Set is the check of the enabled policy set with the change in
	// place, made on save, rollback and delete once the draft is valid
	// on its own.
	Set *SetCheck
}

// SetCheck is the check of the whole enabled policy set that a change
// would leave: every gateway compiles the enabled policies as one set and
// runs every document's tests against it, and refuses a bundle for which
// that fails, so the console refuses such a change first.
type SetCheck struct {
	OK        bool
	Documents int
	// Diagnostics are the set's compile problems, each naming its
	// document.
	Diagnostics []Diagnostic
	// Failed are the tests, of any document, that fail against the set.
	Failed []TestOutcome
}

// Summary says in one line what fails, naming documents and tests.
func (c *SetCheck) Summary() string {
	var parts []string
	for _, d := range c.Diagnostics {
		pos := ""
		if d.Line > 0 {
			pos = fmt.Sprintf(":%d:%d", d.Line, d.Column)
		}
		parts = append(parts, fmt.Sprintf("policy %q%s: %s", d.Document, pos, d.Message))
	}
	for _, t := range c.Failed {
		parts = append(parts, fmt.Sprintf("policy %q line %d: %s", t.Document, t.Line, t.Failure))
	}
	return strings.Join(parts, "; ")
}

// InvalidPolicyError is a policy change refused by its validation: the
// draft does not compile or its tests fail, on its own or in the enabled
// set. It unwraps to an *InvalidError about the source, so a transport
// that knows nothing of validations still answers "invalid".
type InvalidPolicyError struct {
	Validation *Validation
}

func (e *InvalidPolicyError) Error() string {
	if c := e.Validation.Set; c != nil && !c.OK {
		return "the enabled policies would fail as a set, so every gateway would refuse the bundle: " + c.Summary()
	}
	return "the policy does not compile or its tests fail"
}

func (e *InvalidPolicyError) Unwrap() error {
	return &InvalidError{Field: "source", Message: e.Error()}
}

// ValidatePolicy parses and compiles a draft on its own and runs its
// tests, then, when it is valid on its own, checks the enabled set with
// the draft in place of its namesake: what a save would check, so the
// editor shows it first. An empty name is "draft".
func (s *Service) ValidatePolicy(ctx context.Context, _ Actor, name, source string) *Validation {
	if name == "" {
		name = "draft"
	}
	v := validatePolicy(ctx, name, source)
	if !v.OK {
		return v
	}
	c, err := s.checkSet(ctx, name, source, false)
	if err != nil {
		s.log.Warn("console: policy set check", "err", err)
		return v
	}
	v.Set = c
	v.OK = c.OK
	return v
}

// validatePolicy parses and compiles a draft on its own, and runs its
// tests.
func validatePolicy(ctx context.Context, name, source string) *Validation {
	v := &Validation{Diagnostics: []Diagnostic{}, Tests: []TestOutcome{}}
	doc, err := policy.Parse(name, []byte(source))
	var set *policy.Set
	if err == nil {
		set, err = policy.Compile([]*policy.Document{doc}, &policy.CompileOptions{SkipTests: true})
	}
	if err != nil {
		var ds *policy.Diagnostics
		if errors.As(err, &ds) {
			for _, d := range ds.List {
				v.Diagnostics = append(v.Diagnostics, Diagnostic{Line: d.Line, Column: d.Column, Rule: d.Rule, Message: d.Message})
			}
		} else {
			v.Diagnostics = append(v.Diagnostics, Diagnostic{Message: err.Error()})
		}
		return v
	}
	v.Diagnostics = append(v.Diagnostics, descriptionProblems(doc)...)
	if len(v.Diagnostics) > 0 {
		return v
	}
	v.OK = true
	v.Rules = set.Len()
	for _, t := range set.Tests(ctx) {
		v.Tests = append(v.Tests, TestOutcome{Name: t.Name, Line: t.Line, Passed: t.Passed, Failure: t.Failure()})
		if !t.Passed {
			v.OK = false
		}
	}
	return v
}

// descriptionProblems holds a policy's descriptions, its own and its
// rules', to validDescription.
func descriptionProblems(doc *policy.Document) []Diagnostic {
	var ds []Diagnostic
	if fe := validDescription("description", doc.Description); fe != nil {
		ds = append(ds, Diagnostic{Message: fe.Error()})
	}
	for _, r := range doc.Rules {
		if fe := validDescription("description", r.Description); fe != nil {
			ds = append(ds, Diagnostic{Rule: r.ID, Message: "rule " + r.ID + ": " + fe.Error()})
		}
	}
	return ds
}

// validateChange checks a change to policy name: source on its own
// (unless remove), then the enabled set with the change in place. The
// caller holds policyMu, so that two changes cannot each pass against the
// set the other one changes (within this console process; replicas
// sharing a database check against what they read).
func (s *Service) validateChange(ctx context.Context, name, source string, remove bool) error {
	v := &Validation{OK: true, Diagnostics: []Diagnostic{}, Tests: []TestOutcome{}}
	if !remove {
		if v = validatePolicy(ctx, name, source); !v.OK {
			return &InvalidPolicyError{v}
		}
	}
	c, err := s.checkSet(ctx, name, source, remove)
	if err != nil {
		return err
	}
	v.Set = c
	if !c.OK {
		v.OK = false
		return &InvalidPolicyError{v}
	}
	return nil
}

// checkSet compiles the enabled policies as a gateway would once the
// change is made, running every document's tests: the stored enabled
// policies, with the one named name replaced by source (or left out, when
// remove). It reports the compile problems and failing tests, each with
// its document.
func (s *Service) checkSet(ctx context.Context, name, source string, remove bool) (*SetCheck, error) {
	c := &SetCheck{Diagnostics: []Diagnostic{}, Failed: []TestOutcome{}}
	var docs []*policy.Document
	add := func(n, src string) {
		d, err := policy.Parse(n, []byte(src))
		if err != nil {
			c.Diagnostics = append(c.Diagnostics, diagnostics(n, err)...)
			return
		}
		docs = append(docs, d)
	}
	err := eachPage(func(after string) (string, int, error) {
		ps, err := s.st.ListPolicies(ctx, ListOptions{After: after, Limit: listPage})
		for _, p := range ps {
			if p.Enabled && p.Name != name {
				add(p.Name, p.Source)
			}
		}
		return lastKey(len(ps), func() string { return ps[len(ps)-1].Name }), len(ps), err
	})
	if err != nil {
		return nil, fromStore(err)
	}
	if !remove {
		add(name, source)
	}
	c.Documents = len(docs) + len(c.Diagnostics)
	if len(c.Diagnostics) > 0 {
		return c, nil
	}
	set, err := policy.Compile(docs, &policy.CompileOptions{SkipTests: true})
	if err != nil {
		c.Diagnostics = append(c.Diagnostics, diagnostics("", err)...)
		return c, nil
	}
	for _, t := range set.Tests(ctx) {
		if !t.Passed {
			c.Failed = append(c.Failed, TestOutcome{Document: t.Document, Name: t.Name, Line: t.Line, Failure: t.Failure()})
		}
	}
	c.OK = len(c.Failed) == 0
	return c, nil
}

// diagnostics turns a Parse or Compile error into diagnostics; doc names
// the document when the error does not.
func diagnostics(doc string, err error) []Diagnostic {
	var ds *policy.Diagnostics
	if !errors.As(err, &ds) {
		return []Diagnostic{{Document: doc, Message: err.Error()}}
	}
	out := make([]Diagnostic, 0, len(ds.List))
	for _, d := range ds.List {
		f := d.File
		if f == "" {
			f = doc
		}
		out = append(out, Diagnostic{Document: f, Line: d.Line, Column: d.Column, Rule: d.Rule, Message: d.Message})
	}
	return out
}

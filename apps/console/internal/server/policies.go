package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/policy"
)

func (s *Server) apiListPolicies(w http.ResponseWriter, r *http.Request, _ *principal) {
	serveList(s, w, r, s.st.ListPolicies, func(p store.Policy) string { return p.Name })
}

func (s *Server) apiGetPolicy(w http.ResponseWriter, r *http.Request, _ *principal) {
	serveOne(s, w, r, s.st.Policy, "name")
}

// Diagnostic is one policy problem at a line and column. Document names
// the policy it is in when that is not the draft (a check of the whole
// enabled set).
type Diagnostic struct {
	Document string `json:"document,omitempty"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Rule     string `json:"rule,omitempty"`
	Message  string `json:"message"`
}

// TestOutcome is one policy test's result; Document is the policy the
// test is in (set only in a check of the whole enabled set).
type TestOutcome struct {
	Document string `json:"document,omitempty"`
	Name     string `json:"name"`
	Line     int    `json:"line"`
	Passed   bool   `json:"passed"`
	Failure  string `json:"failure,omitempty"`
}

// Validation is what the editor shows for a draft.
type Validation struct {
	OK          bool          `json:"ok"`
	Diagnostics []Diagnostic  `json:"diagnostics"`
	Tests       []TestOutcome `json:"tests"`
	Rules       int           `json:"rules"`
	// Set is the check of the enabled policy set with the change in
	// place, made on save, rollback and delete once the draft is valid
	// on its own.
	Set *SetCheck `json:"set,omitempty"`
}

// SetCheck is the check of the whole enabled policy set that a change
// would leave: every gateway compiles the enabled policies as one set and
// runs every document's tests against it, and refuses a bundle for which
// that fails, so the console refuses such a change first.
type SetCheck struct {
	OK        bool `json:"ok"`
	Documents int  `json:"documents"`
	// Diagnostics are the set's compile problems, each naming its
	// document.
	Diagnostics []Diagnostic `json:"diagnostics"`
	// Failed are the tests, of any document, that fail against the set.
	Failed []TestOutcome `json:"failed"`
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

// checkSet compiles the enabled policies as a gateway would once the
// change is made, running every document's tests: the stored enabled
// policies, with the one named name replaced by source (or left out, when
// remove). It reports the compile problems and failing tests, each with
// its document.
func (s *Server) checkSet(ctx context.Context, name, source string, remove bool) (*SetCheck, error) {
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
		ps, err := s.st.ListPolicies(ctx, store.ListOptions{After: after, Limit: 1000})
		for _, p := range ps {
			if p.Enabled && p.Name != name {
				add(p.Name, p.Source)
			}
		}
		return lastKey(len(ps), func() string { return ps[len(ps)-1].Name }), len(ps), err
	})
	if err != nil {
		return nil, err
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

// Validate parses and compiles a draft on its own, and runs its tests.
func Validate(ctx context.Context, name, source string) (*Validation, *policy.Set) {
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
		return v, nil
	}
	v.Diagnostics = append(v.Diagnostics, descriptionProblems(doc)...)
	if len(v.Diagnostics) > 0 {
		return v, nil
	}
	v.OK = true
	v.Rules = set.Len()
	for _, t := range set.Tests(ctx) {
		v.Tests = append(v.Tests, TestOutcome{Name: t.Name, Line: t.Line, Passed: t.Passed, Failure: t.Failure()})
		if !t.Passed {
			v.OK = false
		}
	}
	return v, set
}

type draft struct {
	Name    string `json:"name"`
	Source  string `json:"source"`
	Message string `json:"message,omitempty"`
	// Days bounds the simulation to decisions recorded in the last Days
	// days (default 7); Limit to the most recent Limit (default 10000).
	Days  int `json:"days,omitempty"`
	Limit int `json:"limit,omitempty"`
}

func (s *Server) apiPolicyValidate(w http.ResponseWriter, r *http.Request, _ *principal) {
	var d draft
	if !decodeLimit(w, r, &d, maxDraftLimit) { // the route bounds the body
		return
	}
	if d.Name == "" {
		d.Name = "draft"
	}
	writeJSON(w, http.StatusOK, s.validateDraft(r.Context(), d.Name, d.Source))
}

// validateDraft is Validate followed, when the draft is valid on its own,
// by the check of the enabled set with the draft in place of its
// namesake: what a save would check, so the editor shows it first.
func (s *Server) validateDraft(ctx context.Context, name, source string) *Validation {
	v, _ := Validate(ctx, name, source)
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

func (s *Server) apiSavePolicy(w http.ResponseWriter, r *http.Request, p *principal) {
	var d draft
	if !decodeLimit(w, r, &d, maxDraftLimit) {
		return
	}
	pv, err := s.SavePolicy(r, r.PathValue("name"), d.Source, d.Message, p)
	if err != nil {
		s.policyError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, pv)
}

// policyError answers a refused policy change: 422 with the validation
// when it failed validation, else the store's error.
func (s *Server) policyError(w http.ResponseWriter, err error) {
	var ve *validationError
	if errors.As(err, &ve) {
		writeJSON(w, http.StatusUnprocessableEntity, invalidPolicy{Status: 422, Code: "invalid_policy", Message: ve.Error(), Validation: ve.v})
		return
	}
	s.storeError(w, err)
}

// invalidPolicy is the error answer of a save that fails validation: the
// common error format plus the validation.
type invalidPolicy struct {
	Status     int         `json:"status"`
	Code       string      `json:"code"`
	Message    string      `json:"message"`
	Validation *Validation `json:"validation"`
}

var errInvalidPolicy = errors.New("console: invalid policy")

// SavePolicy validates a draft and, when it compiles and its tests pass
// on their own and the enabled policy set with the draft in place
// compiles and passes every document's tests (see checkSet), saves it as
// the policy's next version. A refused draft leaves the stored versions
// as they were.
func (s *Server) SavePolicy(r *http.Request, name, source, message string, p *principal) (*store.PolicyVersion, error) {
	s.policyMu.Lock()
	defer s.policyMu.Unlock()
	if err := s.validateChange(r.Context(), name, source, false); err != nil {
		return nil, err
	}
	pv, err := s.st.SavePolicy(r.Context(), name, source, p.name(), message)
	if err != nil {
		return nil, err
	}
	s.audit(r.Context(), p.actor(), "policy.save", name, "", map[string]any{"version": pv.Version, "message": message})
	s.changed()
	return pv, nil
}

// validateChange checks a change to policy name: source on its own
// (unless remove), then the enabled set with the change in place. The
// caller holds policyMu, so that two changes cannot each pass against the
// set the other one changes (within this console process; replicas
// sharing a database check against what they read).
func (s *Server) validateChange(ctx context.Context, name, source string, remove bool) error {
	v := &Validation{OK: true, Diagnostics: []Diagnostic{}, Tests: []TestOutcome{}}
	if !remove {
		if v, _ = Validate(ctx, name, source); !v.OK {
			return &validationError{v}
		}
	}
	c, err := s.checkSet(ctx, name, source, remove)
	if err != nil {
		return err
	}
	v.Set = c
	if !c.OK {
		v.OK = false
		return &validationError{v}
	}
	return nil
}

type validationError struct{ v *Validation }

func (e *validationError) Error() string {
	if c := e.v.Set; c != nil && !c.OK {
		return "the enabled policies would fail as a set, so every gateway would refuse the bundle: " + c.Summary()
	}
	return "the policy does not compile or its tests fail"
}

func (e *validationError) Unwrap() error { return errInvalidPolicy }

// apiDeletePolicy deletes a policy unless the remaining enabled policies
// would fail as a set (another document's tests relying on it).
func (s *Server) apiDeletePolicy(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := s.deletePolicy(r.Context(), r.PathValue("name")); err != nil {
		s.policyError(w, err)
		return
	}
	s.audit(r.Context(), p.actor(), "policy.delete", r.PathValue("name"), "", nil)
	s.changed()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiPolicyVersions(w http.ResponseWriter, r *http.Request, _ *principal) {
	vs, err := s.st.PolicyVersions(r.Context(), r.PathValue("name"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, page[store.PolicyVersion]{Items: vs})
}

// PolicyDiff is a line diff between two versions.
type PolicyDiff struct {
	From  int        `json:"from"`
	To    int        `json:"to"`
	Lines []DiffLine `json:"lines"`
}

func (s *Server) policyDiff(r *http.Request, name string, from, to int) (*PolicyDiff, error) {
	ctx := r.Context()
	if to == 0 {
		p, err := s.st.Policy(ctx, name)
		if err != nil {
			return nil, err
		}
		to = p.Version
	}
	if from == 0 {
		from = max(to-1, 1)
	}
	a, err := s.st.PolicyVersion(ctx, name, from)
	if err != nil {
		return nil, err
	}
	b, err := s.st.PolicyVersion(ctx, name, to)
	if err != nil {
		return nil, err
	}
	return &PolicyDiff{From: from, To: to, Lines: diffLines(a.Source, b.Source)}, nil
}

func (s *Server) apiPolicyDiff(w http.ResponseWriter, r *http.Request, _ *principal) {
	from, _ := strconv.Atoi(r.URL.Query().Get("from"))
	to, _ := strconv.Atoi(r.URL.Query().Get("to"))
	d, err := s.policyDiff(r, r.PathValue("name"), from, to)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

type rollbackRequest struct {
	Version int `json:"version"`
}

func (s *Server) apiPolicyRollback(w http.ResponseWriter, r *http.Request, p *principal) {
	var req rollbackRequest
	if !decode(w, r, &req) {
		return
	}
	pv, err := s.Rollback(r, r.PathValue("name"), req.Version, p)
	if err != nil {
		s.policyError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, pv)
}

func (s *Server) deletePolicy(ctx context.Context, name string) error {
	s.policyMu.Lock()
	defer s.policyMu.Unlock()
	if _, err := s.st.Policy(ctx, name); err != nil {
		return err
	}
	if err := s.validateChange(ctx, name, "", true); err != nil {
		return err
	}
	return s.st.DeletePolicy(ctx, name)
}

// Rollback saves an earlier version's source as the next version, after
// the same checks as SavePolicy: an old version may no longer fit the
// other documents.
func (s *Server) Rollback(r *http.Request, name string, version int, p *principal) (*store.PolicyVersion, error) {
	s.policyMu.Lock()
	defer s.policyMu.Unlock()
	if cur, err := s.st.Policy(r.Context(), name); err == nil && cur.Version == version {
		return nil, errString("version " + strconv.Itoa(version) + " is already the current version")
	}
	old, err := s.st.PolicyVersion(r.Context(), name, version)
	if err != nil {
		return nil, err
	}
	if err := s.validateChange(r.Context(), name, old.Source, false); err != nil {
		return nil, err
	}
	pv, err := s.st.SavePolicy(r.Context(), name, old.Source, p.name(), "rollback to version "+strconv.Itoa(version))
	if err != nil {
		return nil, err
	}
	s.audit(r.Context(), p.actor(), "policy.rollback", name, "", map[string]int{"to": version, "version": pv.Version})
	s.changed()
	return pv, nil
}

// Simulation is a what-if answer over recorded decisions.
type Simulation struct {
	Validation *Validation              `json:"validation"`
	Report     *policy.SimulationReport `json:"report,omitempty"`
	// Unreplayable counts the recorded decisions in the window that could
	// not be replayed, by why: "no request recorded" (a gateway that did
	// not send it, or an event that is not a policy decision) or "request
	// unreadable".
	Unreplayable map[string]int `json:"unreplayable"`
}

// Reasons a recorded decision cannot be replayed.
const (
	unreplayableMissing    = "no request recorded"
	unreplayableUnreadable = "request unreadable"
)

func (s *Server) apiPolicySimulate(w http.ResponseWriter, r *http.Request, _ *principal) {
	var d draft
	if !decodeLimit(w, r, &d, maxDraftLimit) {
		return
	}
	sim, err := s.Simulate(r.Context(), d)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sim)
}

// currentSet compiles every enabled policy, replacing the one named
// replace (if any) with doc.
func (s *Server) currentSet(ctx context.Context, replace string, doc *policy.Document) (*policy.Set, error) {
	var docs []*policy.Document
	after := ""
	for {
		ps, err := s.st.ListPolicies(ctx, store.ListOptions{After: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if !p.Enabled || p.Name == replace {
				continue
			}
			d, err := policy.Parse(p.Name, []byte(p.Source))
			if err == nil {
				docs = append(docs, d)
			}
		}
		if len(ps) < 1000 {
			break
		}
		after = ps[len(ps)-1].Name
	}
	if doc != nil {
		docs = append(docs, doc)
	}
	return policy.Compile(docs, &policy.CompileOptions{SkipTests: true})
}

// Simulate decides the recorded requests of the last days with the
// current policies and with the draft in place of its namesake, and
// reports what would change.
func (s *Server) Simulate(ctx context.Context, d draft) (*Simulation, error) {
	if d.Name == "" {
		d.Name = "draft"
	}
	v, _ := Validate(ctx, d.Name, d.Source)
	sim := &Simulation{Validation: v}
	if len(v.Diagnostics) > 0 {
		return sim, nil
	}
	doc, _ := policy.Parse(d.Name, []byte(d.Source))
	from, err := s.currentSet(ctx, "", nil)
	if err != nil {
		return sim, nil
	}
	to, err := s.currentSet(ctx, d.Name, doc)
	if err != nil {
		return sim, nil
	}
	days := d.Days
	if days <= 0 {
		days = 7
	}
	limit := d.Limit
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	sim.Unreplayable = map[string]int{}
	reqs, err := s.recordedRequests(ctx, s.now().Add(-time.Duration(days)*24*time.Hour), limit, sim.Unreplayable)
	if err != nil {
		return nil, err
	}
	rep, err := policy.Simulate(ctx, from, to, reqs)
	if err != nil {
		return nil, err
	}
	sim.Report = rep
	return sim, nil
}

// recordedRequests reads the requests of recorded decisions, newest
// first, from the audit log, and counts those it cannot replay in skipped
// by why.
func (s *Server) recordedRequests(ctx context.Context, since time.Time, limit int, skipped map[string]int) ([]policy.Request, error) {
	var out []policy.Request
	var before int64
	for len(out) < limit {
		es, err := s.st.ListAudit(ctx, store.AuditFilter{Action: "decision", Since: since, Before: before, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			var det eventDetail
			if json.Unmarshal(e.Detail, &det) != nil || len(det.Request) == 0 {
				skipped[unreplayableMissing]++
				continue
			}
			req, err := policy.ParseRequest(det.Request)
			if err != nil {
				skipped[unreplayableUnreadable]++
				continue
			}
			if req.Time.IsZero() {
				req.Time = e.Time
			}
			out = append(out, *req)
			if len(out) == limit {
				break
			}
		}
		if len(es) < 1000 {
			break
		}
		before = es[len(es)-1].Seq
	}
	return out, nil
}

// A DiffLine is one line of a diff: Op is ' ', '-' or '+'.
type DiffLine struct {
	Op   string `json:"op"`
	Text string `json:"text"`
}

// diffLines is a longest-common-subsequence line diff; policies are small
// (at most policy.MaxDocumentBytes), and a quadratic table is fine below
// 2,000 lines, past which it falls back to "all removed, all added".
func diffLines(a, b string) []DiffLine {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(x)*len(y) > 4_000_000 {
		var out []DiffLine
		for _, l := range x {
			out = append(out, DiffLine{"-", l})
		}
		for _, l := range y {
			out = append(out, DiffLine{"+", l})
		}
		return out
	}
	n, m := len(x), len(y)
	t := make([][]int32, n+1)
	for i := range t {
		t[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				t[i][j] = t[i+1][j+1] + 1
			} else {
				t[i][j] = max(t[i+1][j], t[i][j+1])
			}
		}
	}
	var out []DiffLine
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case x[i] == y[j]:
			out = append(out, DiffLine{" ", x[i]})
			i++
			j++
		case t[i+1][j] >= t[i][j+1]:
			out = append(out, DiffLine{"-", x[i]})
			i++
		default:
			out = append(out, DiffLine{"+", y[j]})
			j++
		}
	}
	for ; i < n; i++ {
		out = append(out, DiffLine{"-", x[i]})
	}
	for ; j < m; j++ {
		out = append(out, DiffLine{"+", y[j]})
	}
	return out
}

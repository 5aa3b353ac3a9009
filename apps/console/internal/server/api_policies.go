package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/policy"
)

// The REST API's policy answers: domain values with the field names the
// API has always used.

// Policy is a policy at its current version.
type Policy struct {
	Name    string    `json:"name"`
	Version int       `json:"version"`
	Source  string    `json:"source"`
	Author  string    `json:"author"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
	Enabled bool      `json:"enabled"`
}

func policyJSON(p *domain.Policy) Policy {
	return Policy{Name: p.Name, Version: p.Version, Source: p.Source, Author: p.Author, Message: p.Message, Time: p.Time, Enabled: p.Enabled}
}

// PolicyVersion is one saved version of a policy.
type PolicyVersion struct {
	Name    string    `json:"name"`
	Version int       `json:"version"`
	Source  string    `json:"source"`
	Author  string    `json:"author"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
}

func policyVersionJSON(v *domain.PolicyVersion) PolicyVersion {
	return PolicyVersion{Name: v.Name, Version: v.Version, Source: v.Source, Author: v.Author, Message: v.Message, Time: v.Time}
}

// Diagnostic is one policy problem at a line and column (see
// domain.Diagnostic).
type Diagnostic struct {
	Document string `json:"document,omitempty"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Rule     string `json:"rule,omitempty"`
	Message  string `json:"message"`
}

// TestOutcome is one policy test's result (see domain.TestOutcome).
type TestOutcome struct {
	Document string `json:"document,omitempty"`
	Name     string `json:"name"`
	Line     int    `json:"line"`
	Passed   bool   `json:"passed"`
	Failure  string `json:"failure,omitempty"`
}

// Validation is what the editor shows for a draft (see
// domain.Validation).
type Validation struct {
	OK          bool          `json:"ok"`
	Diagnostics []Diagnostic  `json:"diagnostics"`
	Tests       []TestOutcome `json:"tests"`
	Rules       int           `json:"rules"`
	Set         *SetCheck     `json:"set,omitempty"`
}

// SetCheck is the check of the whole enabled policy set that a change
// would leave (see domain.SetCheck).
type SetCheck struct {
	OK          bool          `json:"ok"`
	Documents   int           `json:"documents"`
	Diagnostics []Diagnostic  `json:"diagnostics"`
	Failed      []TestOutcome `json:"failed"`
}

func diagnosticsJSON(ds []domain.Diagnostic) []Diagnostic {
	out := make([]Diagnostic, len(ds))
	for i, d := range ds {
		out[i] = Diagnostic(d)
	}
	return out
}

func outcomesJSON(ts []domain.TestOutcome) []TestOutcome {
	out := make([]TestOutcome, len(ts))
	for i, t := range ts {
		out[i] = TestOutcome(t)
	}
	return out
}

func validationJSON(v *domain.Validation) *Validation {
	if v == nil {
		return nil
	}
	out := &Validation{OK: v.OK, Diagnostics: diagnosticsJSON(v.Diagnostics), Tests: outcomesJSON(v.Tests), Rules: v.Rules}
	if c := v.Set; c != nil {
		out.Set = &SetCheck{OK: c.OK, Documents: c.Documents, Diagnostics: diagnosticsJSON(c.Diagnostics), Failed: outcomesJSON(c.Failed)}
	}
	return out
}

// PolicyDiff is a line diff between two versions.
type PolicyDiff struct {
	From  int        `json:"from"`
	To    int        `json:"to"`
	Lines []DiffLine `json:"lines"`
}

// A DiffLine is one line of a diff: Op is ' ', '-' or '+'.
type DiffLine struct {
	Op   string `json:"op"`
	Text string `json:"text"`
}

// Simulation is a what-if answer over recorded decisions (see
// domain.Simulation).
type Simulation struct {
	Validation   *Validation              `json:"validation"`
	Report       *policy.SimulationReport `json:"report,omitempty"`
	Unreplayable map[string]int           `json:"unreplayable"`
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

type rollbackRequest struct {
	Version int `json:"version"`
}

// invalidPolicy is the error answer of a save that fails validation: the
// common error format plus the validation.
type invalidPolicy struct {
	Status     int         `json:"status"`
	Code       string      `json:"code"`
	Message    string      `json:"message"`
	Validation *Validation `json:"validation"`
}

// policyError answers a refused policy change: 422 with the validation
// when it failed validation, else the domain's error.
func (s *Server) policyError(w http.ResponseWriter, err error) {
	if ve, ok := errors.AsType[*domain.InvalidPolicyError](err); ok {
		writeJSON(w, http.StatusUnprocessableEntity, invalidPolicy{Status: 422, Code: "invalid_policy", Message: ve.Error(), Validation: validationJSON(ve.Validation)})
		return
	}
	s.writeProblem(w, err)
}

func (s *Server) apiPolicyRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/policies", perm: permRead, h: s.apiListPolicies},
		{method: "GET", path: "/api/v1/policies/{name}", perm: permRead, h: s.apiGetPolicy},
		{method: "PUT", path: "/api/v1/policies/{name}", perm: permPolicy, draft: true, h: s.apiSavePolicy},
		{method: "DELETE", path: "/api/v1/policies/{name}", perm: permPolicy, h: s.apiDeletePolicy},
		{method: "GET", path: "/api/v1/policies/{name}/versions", perm: permRead, h: s.apiPolicyVersions},
		{method: "GET", path: "/api/v1/policies/{name}/diff", perm: permRead, h: s.apiPolicyDiff},
		{method: "POST", path: "/api/v1/policies/{name}/rollback", perm: permPolicy, h: s.apiPolicyRollback},
		{method: "POST", path: "/api/v1/policies/validate", perm: permRead, draft: true, compile: true, h: s.apiPolicyValidate},
		{method: "POST", path: "/api/v1/policies/simulate", perm: permPolicy, draft: true, compile: true, h: s.apiPolicySimulate},
		{method: "GET", path: "/api/v1/templates", perm: permRead, h: s.apiTemplates},
	}
}

func (s *Server) apiListPolicies(w http.ResponseWriter, r *http.Request, p *principal) {
	serveList(s, w, r, func(ctx context.Context, o domain.ListOptions) ([]Policy, error) {
		ps, err := p.dom.ListPolicies(ctx, p.domainActor(), o)
		out := make([]Policy, len(ps))
		for i := range ps {
			out[i] = policyJSON(&ps[i])
		}
		return out, err
	}, func(p Policy) string { return p.Name })
}

func (s *Server) apiGetPolicy(w http.ResponseWriter, r *http.Request, p *principal) {
	x, err := p.dom.Policy(r.Context(), p.domainActor(), r.PathValue("name"))
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, policyJSON(x))
}

func (s *Server) apiPolicyValidate(w http.ResponseWriter, r *http.Request, p *principal) {
	var d draft
	if !decodeLimit(w, r, &d, maxDraftLimit) { // the route bounds the body
		return
	}
	writeJSON(w, http.StatusOK, validationJSON(p.dom.ValidatePolicy(r.Context(), p.domainActor(), d.Name, d.Source)))
}

func (s *Server) apiSavePolicy(w http.ResponseWriter, r *http.Request, p *principal) {
	var d draft
	if !decodeLimit(w, r, &d, maxDraftLimit) {
		return
	}
	pv, err := p.dom.SavePolicy(r.Context(), p.domainActor(), domain.PolicyChange{Name: r.PathValue("name"), Source: d.Source, Message: d.Message})
	if err != nil {
		s.policyError(w, err)
		return
	}
	s.changed(p.tenant)
	writeJSON(w, http.StatusOK, policyVersionJSON(pv))
}

// apiDeletePolicy deletes a policy unless the remaining enabled policies
// would fail as a set (another document's tests relying on it).
func (s *Server) apiDeletePolicy(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := p.dom.DeletePolicy(r.Context(), p.domainActor(), r.PathValue("name")); err != nil {
		s.policyError(w, err)
		return
	}
	s.changed(p.tenant)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiPolicyVersions(w http.ResponseWriter, r *http.Request, p *principal) {
	vs, err := p.dom.PolicyVersions(r.Context(), p.domainActor(), r.PathValue("name"))
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	out := make([]PolicyVersion, len(vs))
	for i := range vs {
		out[i] = policyVersionJSON(&vs[i])
	}
	writeJSON(w, http.StatusOK, page[PolicyVersion]{Items: out})
}

func (s *Server) apiPolicyDiff(w http.ResponseWriter, r *http.Request, p *principal) {
	from, _ := strconv.Atoi(r.URL.Query().Get("from"))
	to, _ := strconv.Atoi(r.URL.Query().Get("to"))
	d, err := p.dom.PolicyDiff(r.Context(), p.domainActor(), r.PathValue("name"), from, to)
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	out := PolicyDiff{From: d.From, To: d.To, Lines: make([]DiffLine, len(d.Lines))}
	for i, l := range d.Lines {
		out.Lines[i] = DiffLine(l)
	}
	if d.Lines == nil {
		out.Lines = nil
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiPolicyRollback(w http.ResponseWriter, r *http.Request, p *principal) {
	var req rollbackRequest
	if !decode(w, r, &req) {
		return
	}
	pv, err := p.dom.RollbackPolicy(r.Context(), p.domainActor(), r.PathValue("name"), req.Version)
	if err != nil {
		s.policyError(w, err)
		return
	}
	s.changed(p.tenant)
	writeJSON(w, http.StatusOK, policyVersionJSON(pv))
}

func (s *Server) apiPolicySimulate(w http.ResponseWriter, r *http.Request, p *principal) {
	var d draft
	if !decodeLimit(w, r, &d, maxDraftLimit) {
		return
	}
	sim, err := p.dom.SimulatePolicy(r.Context(), p.domainActor(), domain.SimulateDraft{Name: d.Name, Source: d.Source, Days: d.Days, Limit: d.Limit})
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, Simulation{Validation: validationJSON(sim.Validation), Report: sim.Report, Unreplayable: sim.Unreplayable})
}

func (s *Server) apiTemplates(w http.ResponseWriter, r *http.Request, p *principal) {
	type tmpl struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		Source      string `json:"source"`
	}
	out := []tmpl{}
	for _, t := range domain.Templates() {
		out = append(out, tmpl(t))
	}
	writeJSON(w, http.StatusOK, page[tmpl]{Items: out})
}

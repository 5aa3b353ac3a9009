package server

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/a-h/templ"
	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
	"github.com/gonaut/gonaut/policy"
)

func (s *Server) pagePolicyRoutes() []route {
	// Pages carrying a policy draft, and those that compile it.
	draft := func(rt route, compile bool) route { rt.draft, rt.compile = true, compile; return rt }
	return []route{
		pageRoute("GET", "/policies", permRead, s.pagePolicies),
		pageRoute("GET", "/policies/new", permPolicy, s.pagePolicyNew),
		pageRoute("GET", "/policies/{name}", permRead, s.pagePolicyEdit),
		draft(pageRoute("POST", "/policies/save", permPolicy, s.pagePolicySave), false),
		pageRoute("GET", "/policies/{name}/history", permRead, s.pagePolicyHistory),
		pageRoute("POST", "/policies/{name}/rollback", permPolicy, s.pagePolicyRollback),
		draft(pageRoute("POST", "/ui/policies/validate", permRead, s.fragValidate), true),
		draft(pageRoute("POST", "/ui/policies/simulate", permPolicy, s.fragSimulate), true),
		pageRoute("GET", "/templates", permRead, s.pageTemplates),
	}
}

func (s *Server) pagePolicies(w http.ResponseWriter, r *http.Request, p *principal) {
	o := listOpts(r)
	ps, err := p.dom.ListPolicies(r.Context(), p.domainActor(), o)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	l := ui.List{Page: s.pageOf(r, p, "Policies", "policies"), Heading: "Policies", Query: o.Query,
		Table: ui.Table{Head: []string{"Name", "Version", "Author", "Saved", "Message"}},
		Links: []ui.Link{{Label: "New policy", URL: "/policies/new"}, {Label: "Templates", URL: "/templates"}}}
	for _, x := range ps {
		l.Table.Rows = append(l.Table.Rows, ui.Row{ID: x.Name, Href: "/policies/" + url.PathEscape(x.Name), Cells: []string{x.Name, strconv.Itoa(x.Version), x.Author, x.Time.Format("2006-01-02 15:04"), x.Message}})
	}
	if len(ps) == clampLimit(o.Limit) {
		l.Next = "/policies?cursor=" + url.QueryEscape(ps[len(ps)-1].Name) + "&q=" + url.QueryEscape(o.Query)
	}
	s.render(w, r, http.StatusOK, policyList(l))
}

func policyList(l ui.List) templ.Component { return ui.ListPage(l) }

func (s *Server) pagePolicyNew(w http.ResponseWriter, r *http.Request, p *principal) {
	e := ui.Editor{Page: s.pageOf(r, p, "New policy", "policies"), IsNew: true}
	if t, ok := domain.TemplateByName(r.URL.Query().Get("template")); ok {
		e.Source, e.Name = t.Source, t.Name
	} else {
		e.Name, e.Source = p.dom.PolicyStart(r.Context(), p.domainActor())
	}
	s.render(w, r, http.StatusOK, ui.EditorPage(e))
}

func (s *Server) pagePolicyEdit(w http.ResponseWriter, r *http.Request, p *principal) {
	pol, err := p.dom.Policy(r.Context(), p.domainActor(), r.PathValue("name"))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	e := ui.Editor{Page: s.pageOf(r, p, "Policy "+pol.Name, "policies"), Name: pol.Name, Source: pol.Source, Version: pol.Version}
	s.render(w, r, http.StatusOK, ui.EditorPage(e))
}

func toUIValidation(v *domain.Validation) ui.Validation {
	out := ui.Validation{OK: v.OK, Rules: v.Rules}
	for _, d := range v.Diagnostics {
		msg := d.Message
		if d.Rule != "" {
			msg = fmt.Sprintf("rule %q: %s", d.Rule, msg)
		}
		out.Diags = append(out.Diags, ui.Diag{Line: d.Line, Column: d.Column, Message: msg})
	}
	for _, t := range v.Tests {
		out.Tests = append(out.Tests, ui.TestRow{Name: t.Name, Passed: t.Passed, Failure: t.Failure})
	}
	// What fails in the enabled set with the draft in place, naming the
	// document: a save would be refused for it.
	if c := v.Set; c != nil {
		for _, d := range c.Diagnostics {
			out.Diags = append(out.Diags, ui.Diag{Line: d.Line, Column: d.Column, Message: fmt.Sprintf("with the enabled policies, in policy %q: %s", d.Document, d.Message)})
		}
		for _, t := range c.Failed {
			out.Tests = append(out.Tests, ui.TestRow{Name: t.Name, Failure: fmt.Sprintf("with the enabled policies, policy %q: %s", t.Document, t.Failure)})
		}
	}
	return out
}

func (s *Server) fragValidate(w http.ResponseWriter, r *http.Request, p *principal) {
	r.Body = http.MaxBytesReader(w, r.Body, maxDraftLimit)
	v := p.dom.ValidatePolicy(r.Context(), p.domainActor(), r.PostFormValue("name"), r.PostFormValue("source"))
	s.render(w, r, http.StatusOK, ui.ValidationPanel(toUIValidation(v)))
}

func (s *Server) fragSimulate(w http.ResponseWriter, r *http.Request, p *principal) {
	r.Body = http.MaxBytesReader(w, r.Body, maxDraftLimit)
	sim, err := p.dom.SimulatePolicy(r.Context(), p.domainActor(), domain.SimulateDraft{Name: r.PostFormValue("name"), Source: r.PostFormValue("source")})
	if err != nil {
		s.render(w, r, http.StatusOK, ui.SimulationPanel(ui.Simulation{Invalid: true}))
		return
	}
	out := ui.Simulation{Invalid: sim.Report == nil}
	if rep := sim.Report; rep != nil {
		out.Total, out.Changed, out.NowAllowed, out.NowDenied, out.RuleOnly = rep.Total, rep.Changed, rep.NowAllowed, rep.NowDenied, rep.RuleOnly
		for _, why := range slices.Sorted(maps.Keys(sim.Unreplayable)) {
			out.Unreplayable = append(out.Unreplayable, fmt.Sprintf("%d with %s", sim.Unreplayable[why], why))
		}
		for i, c := range rep.Changes {
			if i == 100 {
				break
			}
			tone := "deny"
			if c.After.Effect == policy.Allow {
				tone = "allow"
			}
			out.Changes = append(out.Changes, ui.Row{Cells: []string{c.Request.Subject.Email + c.Request.Subject.ID, c.Request.Resource.Name, c.Before.Effect.String() + " " + c.Before.Rule, c.After.Effect.String() + " " + c.After.Rule}, Tone: tone})
		}
	}
	s.render(w, r, http.StatusOK, ui.SimulationPanel(out))
}

func (s *Server) pagePolicySave(w http.ResponseWriter, r *http.Request, p *principal) {
	name, source := r.PostFormValue("name"), r.PostFormValue("source")
	a := p.domainActor()
	pv, err := p.dom.SavePolicy(r.Context(), a, domain.PolicyChange{Name: name, Source: source, Message: r.PostFormValue("message")})
	if err != nil {
		e := ui.Editor{Page: s.pageOf(r, p, "Policy "+name, "policies"), Name: name, Source: source, IsNew: true}
		if old, err := p.dom.Policy(r.Context(), a, name); err == nil {
			e.IsNew, e.Version = false, old.Version
		}
		if ve, ok := errors.AsType[*domain.InvalidPolicyError](err); ok {
			e.Error = "Not saved: " + ve.Error() + "."
		} else if _, ok := errors.AsType[*domain.InvalidError](err); ok {
			e.Error = "Not saved: the name may use letters, digits and _ . : -"
		} else {
			e.Error = "Not saved: " + s.problemMessage(err)
		}
		s.render(w, r, http.StatusUnprocessableEntity, ui.EditorPage(e))
		return
	}
	s.changed(p.tenant)
	s.redirect(w, r, "/policies/"+url.PathEscape(pv.Name), flashInfo, fmt.Sprintf("Saved version %d of %s.", pv.Version, pv.Name))
}

func (s *Server) pagePolicyHistory(w http.ResponseWriter, r *http.Request, p *principal) {
	name := r.PathValue("name")
	a := p.domainActor()
	vs, err := p.dom.PolicyVersions(r.Context(), a, name)
	if err == nil && len(vs) == 0 {
		// The store does not promise a non-empty list, and there is
		// nothing to show or diff without a version.
		err = domain.ErrNotFound
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	h := ui.History{Page: s.pageOf(r, p, "History of "+name, "policies"), Name: name}
	for _, v := range vs {
		h.Versions = append(h.Versions, ui.Version{Version: v.Version, Author: v.Author, Message: v.Message, Time: v.Time})
	}
	h.Current = vs[0].Version
	to, _ := strconv.Atoi(r.URL.Query().Get("to"))
	if to == 0 {
		to = vs[0].Version
	}
	from := to - 1
	if c, _ := strconv.Atoi(r.URL.Query().Get("rollback")); c > 0 && c != h.Current {
		// Confirming a rollback shows what it would change.
		h.Confirm, from, to = c, h.Current, c
	}
	if from >= 1 {
		if d, err := p.dom.PolicyDiff(r.Context(), a, name, from, to); err == nil {
			h.From, h.To = d.From, d.To
			for _, l := range d.Lines {
				h.Diff = append(h.Diff, ui.DiffLine{Op: l.Op, Text: l.Text})
			}
		}
	}
	s.render(w, r, http.StatusOK, ui.HistoryPage(h))
}

func (s *Server) pagePolicyRollback(w http.ResponseWriter, r *http.Request, p *principal) {
	v, _ := strconv.Atoi(r.PostFormValue("version"))
	history := "/policies/" + url.PathEscape(r.PathValue("name")) + "/history"
	if r.PostFormValue("confirm") != "yes" {
		// A rollback changes what every gateway enforces: ask first.
		http.Redirect(w, r, history+"?rollback="+strconv.Itoa(v), http.StatusSeeOther)
		return
	}
	pv, err := p.dom.RollbackPolicy(r.Context(), p.domainActor(), r.PathValue("name"), v)
	if ve, ok := errors.AsType[*domain.InvalidPolicyError](err); ok {
		s.redirect(w, r, history, flashError, fmt.Sprintf("Not rolled back to version %d: %s.", v, ve.Error()))
		return
	}
	if inv, ok := errors.AsType[*domain.InvalidError](err); ok {
		s.redirect(w, r, history, flashError, "Not rolled back: "+inv.Error()+".")
		return
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.changed(p.tenant)
	s.redirect(w, r, "/policies/"+url.PathEscape(pv.Name)+"/history", flashInfo, fmt.Sprintf("Rolled back: version %d is version %d again.", pv.Version, v))
}

func (s *Server) pageTemplates(w http.ResponseWriter, r *http.Request, p *principal) {
	var ts []ui.Template
	for _, t := range domain.Templates() {
		ts = append(ts, ui.Template{Name: t.Name, Description: t.Description, Source: t.Source})
	}
	s.render(w, r, http.StatusOK, ui.TemplatesPage(s.pageOf(r, p, "Templates", "policies"), ts))
}

package domain

import (
	"context"
	"encoding/json"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/policy"
)

// Simulation is a what-if answer over recorded decisions.
type Simulation struct {
	Validation *Validation
	// Report is nil when the draft or the current set does not compile.
	Report *policy.SimulationReport
	// Unreplayable counts the recorded decisions in the window that could
	// not be replayed, by why: UnreplayableMissing or
	// UnreplayableUnreadable. Nil when nothing was replayed.
	Unreplayable map[string]int
}

// Reasons a recorded decision cannot be replayed.
const (
	// UnreplayableMissing: a gateway that did not send the request, or
	// an event that is not a policy decision.
	UnreplayableMissing    = "no request recorded"
	UnreplayableUnreadable = "request unreadable"
)

// SimulateDraft is a draft to replay recorded decisions against.
type SimulateDraft struct {
	Name, Source string
	// Days bounds the simulation to decisions recorded in the last Days
	// days (default 7); Limit to the most recent Limit (default and at
	// most 10000).
	Days, Limit int
}

// SimulatePolicy decides the recorded requests of the last days with
// the current policies and with the draft in place of its namesake, and
// reports what would change. An empty name is "draft".
func (s *Service) SimulatePolicy(ctx context.Context, _ Actor, in SimulateDraft) (*Simulation, error) {
	if in.Name == "" {
		in.Name = "draft"
	}
	v := validatePolicy(ctx, in.Name, in.Source)
	sim := &Simulation{Validation: v}
	if len(v.Diagnostics) > 0 {
		return sim, nil
	}
	doc, _ := policy.Parse(in.Name, []byte(in.Source))
	from, err := s.currentSet(ctx, "", nil)
	if err != nil {
		return sim, nil
	}
	to, err := s.currentSet(ctx, in.Name, doc)
	if err != nil {
		return sim, nil
	}
	days := in.Days
	if days <= 0 {
		days = 7
	}
	limit := in.Limit
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	sim.Unreplayable = map[string]int{}
	reqs, err := s.recordedRequests(ctx, s.now().Add(-time.Duration(days)*24*time.Hour), limit, sim.Unreplayable)
	if err != nil {
		return nil, fromStore(err)
	}
	rep, err := policy.Simulate(ctx, from, to, reqs)
	if err != nil {
		return nil, err
	}
	sim.Report = rep
	return sim, nil
}

// currentSet compiles every enabled policy, replacing the one named
// replace (if any) with doc.
func (s *Service) currentSet(ctx context.Context, replace string, doc *policy.Document) (*policy.Set, error) {
	var docs []*policy.Document
	err := eachPage(func(after string) (string, int, error) {
		ps, err := s.st.ListPolicies(ctx, ListOptions{After: after, Limit: listPage})
		for _, p := range ps {
			if !p.Enabled || p.Name == replace {
				continue
			}
			if d, err := policy.Parse(p.Name, []byte(p.Source)); err == nil {
				docs = append(docs, d)
			}
		}
		return lastKey(len(ps), func() string { return ps[len(ps)-1].Name }), len(ps), err
	})
	if err != nil {
		return nil, err
	}
	if doc != nil {
		docs = append(docs, doc)
	}
	return policy.Compile(docs, &policy.CompileOptions{SkipTests: true})
}

// recordedRequests reads the requests of recorded decisions, newest
// first, from the audit log, and counts those it cannot replay in skipped
// by why.
func (s *Service) recordedRequests(ctx context.Context, since time.Time, limit int, skipped map[string]int) ([]policy.Request, error) {
	var out []policy.Request
	var before int64
	for len(out) < limit {
		es, err := s.st.ListAudit(ctx, store.AuditFilter{Action: "decision", Since: since, Before: before, Limit: listPage})
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			var det gatewayDetail
			if json.Unmarshal(e.Detail, &det) != nil || len(det.Request) == 0 {
				skipped[UnreplayableMissing]++
				continue
			}
			req, err := policy.ParseRequest(det.Request)
			if err != nil {
				skipped[UnreplayableUnreadable]++
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
		if len(es) < listPage {
			break
		}
		before = es[len(es)-1].Seq
	}
	return out, nil
}

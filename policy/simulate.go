package policy

import (
	"context"
	"time"
)

// A Change is one request that two sets decide differently.
type Change struct {
	// Index is the request's position in the input.
	Index   int      `json:"index"`
	Request *Request `json:"request"`
	Before  Decision `json:"before"`
	After   Decision `json:"after"`
}

// A SimulationReport is the what-if answer: which requests a candidate set
// would decide differently from the current one.
type SimulationReport struct {
	// Total is the number of requests simulated.
	Total int `json:"total"`
	// Changed counts requests whose effect or deciding rule changed.
	Changed int `json:"changed"`
	// NowAllowed and NowDenied count effect flips in each direction;
	// RuleOnly counts changes of deciding rule with the same effect.
	NowAllowed int `json:"now_allowed"`
	NowDenied  int `json:"now_denied"`
	RuleOnly   int `json:"rule_only"`
	// FromVersion and ToVersion identify the two sets.
	FromVersion string   `json:"from_version"`
	ToVersion   string   `json:"to_version"`
	Changes     []Change `json:"changes"`
}

// Simulate decides every request with both sets and reports the requests
// whose effect or deciding rule differ. Requests without a time are decided
// at one common "now" by both sets, so that time-of-day rules compare
// fairly. It stops early, returning what it has and ctx's error, when ctx
// is done.
func Simulate(ctx context.Context, from, to *Set, reqs []Request) (*SimulationReport, error) {
	rep := &SimulationReport{Total: len(reqs), FromVersion: from.Version(), ToVersion: to.Version(), Changes: []Change{}}
	now := time.Now()
	for i := range reqs {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				rep.Total = i
				return rep, err
			}
		}
		r := &reqs[i]
		if r.Time.IsZero() {
			c := *r
			c.Time = now
			r = &c
		}
		before := from.Decide(ctx, r)
		after := to.Decide(ctx, r)
		if before.Effect == after.Effect && before.Rule == after.Rule {
			continue
		}
		rep.Changed++
		switch {
		case before.Effect == Deny && after.Effect == Allow:
			rep.NowAllowed++
		case before.Effect == Allow && after.Effect == Deny:
			rep.NowDenied++
		default:
			rep.RuleOnly++
		}
		rep.Changes = append(rep.Changes, Change{Index: i, Request: &reqs[i], Before: before, After: after})
	}
	return rep, nil
}

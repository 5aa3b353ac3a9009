package domain

import (
	"context"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// TestSummary counts the last half hour's decisions and bytes, and
// serves from its cache until ForgetSummary.
func TestSummary(t *testing.T) {
	now := time.Now().UTC()
	s, st := newInsightService(t, Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	appendAudit(t, st,
		store.AuditEvent{Time: now.Add(-time.Hour), Actor: "u_a", Action: "decision", Resource: "old", Effect: "allow"},
		store.AuditEvent{Time: now, Actor: "u_a", Action: "decision", Resource: "wiki", Effect: "allow"},
		store.AuditEvent{Time: now, Actor: "u_a", Action: "decision", Resource: "wiki", Effect: "deny"},
		store.AuditEvent{Time: now, Actor: "u_a", Action: "flow", Resource: "wiki", Detail: []byte(`{"bytes":1500}`)},
	)
	sum, err := s.Summary(ctx, auditor)
	if err != nil || sum.Decisions != 2 || sum.Allowed != 1 || sum.Denied != 1 || sum.Bytes != 1500 || len(sum.TopResources) != 1 || sum.TopResources[0] != (ResourceCount{"wiki", 2}) {
		t.Fatalf("summary %+v, %v", sum, err)
	}
	if last := sum.PerMinute[len(sum.PerMinute)-1]; last.Allowed != 1 || last.Denied != 1 {
		t.Errorf("this minute %+v", last)
	}
	sum.TopResources[0].Count = 99 // a caller's change stays its own
	appendAudit(t, st, store.AuditEvent{Time: now, Actor: "u_a", Action: "decision", Resource: "git", Effect: "allow"})
	if sum, _ := s.Summary(ctx, auditor); sum.Decisions != 2 || sum.TopResources[0].Count != 2 {
		t.Errorf("cached summary %+v", sum)
	}
	s.ForgetSummary()
	if sum, _ := s.Summary(ctx, auditor); sum.Decisions != 3 {
		t.Errorf("after ForgetSummary: %d decisions", sum.Decisions)
	}
}

package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// TestDemoSeedsIDsLikeGateways runs the demo and checks that its seeded
// history names people and the gateway by id, as real gateway traffic
// does: otherwise one person shows up as two users (her email from the
// seed, her id from the gateway) and a filter finds half of her.
func TestDemoSeedsIDsLikeGateways(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"demo", "-db", db, "-listen", addr}, &out, &errb) }()
	waitUp(t, addr)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("demo exited %d: %s", code, errb.String())
	}
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bg := context.Background()
	gws, err := st.ListGateways(bg)
	if err != nil || len(gws) != 1 {
		t.Fatalf("gateways %v, %v", gws, err)
	}
	es, err := st.ListAudit(bg, store.AuditFilter{Action: "decision", Limit: 1000})
	if err != nil || len(es) == 0 {
		t.Fatalf("seeded decisions: %d, %v", len(es), err)
	}
	for _, e := range es {
		if u, err := st.User(bg, e.Actor); err != nil {
			t.Fatalf("seeded decision %d has actor %q, not a user id: %v", e.Seq, e.Actor, err)
		} else if e.Gateway != gws[0].ID {
			t.Fatalf("seeded decision %d (%s) has gateway %q, want the demo gateway's id %s", e.Seq, u.Email, e.Gateway, gws[0].ID)
		}
	}
	as, err := st.ListAlerts(bg, "", store.ListOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		if _, err := st.User(bg, a.Subject); err != nil {
			t.Errorf("seeded alert %s has subject %q, not a user id", a.ID, a.Subject)
		}
	}
}

package server

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// waitCheckpoint waits until the last checkpoint signs entry seq or later.
func waitCheckpoint(t *testing.T, st store.Store, seq int64) *store.AuditCheckpoint {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := st.LastAuditCheckpoint(bg)
		if err == nil && c.Seq >= seq {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of entry %d: last %+v, %v", seq, c, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAuditCheckpointEveryN makes audited changes over the API and
// checks that the console signs the head every CheckpointEvery entries,
// and that the audit API's verify then catches a truncated log.
func TestAuditCheckpointEveryN(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	e := newEnvWith(t, nil, &Options{AuditKey: key, CheckpointEvery: 5, CheckpointInterval: time.Hour})
	for i := range 12 {
		e.mustCall(domain.RoleAdmin, "PUT", fmt.Sprintf("/api/v1/groups/g%d", i), map[string]string{"description": "x"}, 200, nil)
	}
	head, _ := e.st.CountAudit(bg)
	c := waitCheckpoint(t, e.st, head-4)
	if !c.Verify(pub) {
		t.Fatalf("checkpoint %+v does not verify", c)
	}
	var rep store.VerifyReport
	e.mustCall(domain.RoleAuditor, "GET", "/api/v1/audit/verify", nil, 200, &rep)
	// The checkpointer signs the head it finds, so entries that arrive
	// faster than it runs share one checkpoint: at least one, not one
	// per CheckpointEvery.
	if !rep.OK || rep.Checkpoints < 1 || rep.SignedThrough < head-4 || !rep.SignaturesChecked {
		t.Fatalf("verify = %+v", rep)
	}
	// Remove the signed entries and mend the head record: the chain
	// alone would pass.
	keep := c.Seq - 2
	for _, q := range []string{
		fmt.Sprintf(`DELETE FROM audit WHERE seq > %d`, keep),
		fmt.Sprintf(`UPDATE audit_head SET seq = %d, hash = (SELECT hash FROM audit WHERE seq = %d) WHERE id = 1`, keep, keep),
	} {
		if _, err := e.st.SQL().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if rep, _ := e.st.VerifyAudit(bg); !rep.OK {
		t.Fatalf("the chain alone should pass: %+v", rep)
	}
	rep = store.VerifyReport{}
	e.mustCall(domain.RoleAuditor, "GET", "/api/v1/audit/verify", nil, 200, &rep)
	if rep.OK || !rep.Truncated {
		t.Errorf("verify after truncation = %+v", rep)
	}
}

// TestAuditCheckpointEveryInterval checks that a few new entries are
// signed within the interval, and that closing the console signs the
// last ones.
func TestAuditCheckpointEveryInterval(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	e := newEnvWith(t, nil, &Options{AuditKey: key, CheckpointInterval: 50 * time.Millisecond})
	e.mustCall(domain.RoleAdmin, "PUT", "/api/v1/groups/a", map[string]string{"description": "x"}, 200, nil)
	head, _ := e.st.CountAudit(bg)
	waitCheckpoint(t, e.st, head)

	e2 := newEnvWith(t, nil, &Options{AuditKey: key, CheckpointInterval: time.Hour})
	e2.mustCall(domain.RoleAdmin, "PUT", "/api/v1/groups/b", map[string]string{"description": "x"}, 200, nil)
	head, _ = e2.st.CountAudit(bg)
	e2.srv.Close()
	waitCheckpoint(t, e2.st, head)
}

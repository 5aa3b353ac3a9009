package store_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// checkpointedLog appends n entries and signs a checkpoint of the head
// after every tenth, as the console does every N entries.
func checkpointedLog(t *testing.T, s *store.DB, key ed25519.PrivateKey, n int) {
	t.Helper()
	for i := range n {
		if _, _, err := s.AppendAudit(ctx, []store.AuditEvent{{Actor: fmt.Sprintf("user%d@example.com", i%3), Action: "policy.save", Resource: "p"}}); err != nil {
			t.Fatal(err)
		}
		if (i+1)%10 == 0 {
			seq, hash, err := s.AuditHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			c := store.SignCheckpoint(key, seq, hash, time.Now())
			if err := s.AddAuditCheckpoint(ctx, &c); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func exec(t *testing.T, s *store.DB, q string) {
	t.Helper()
	if _, err := s.SQL().ExecContext(ctx, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestCheckpointsCatchTruncation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		pub, key, _ := ed25519.GenerateKey(rand.Reader)
		checkpointedLog(t, s, key, 30)
		rep, err := s.VerifyAuditSigned(ctx, pub, nil)
		if err != nil || !rep.OK || rep.Checkpoints != 3 || rep.SignedThrough != 30 || !rep.SignaturesChecked {
			t.Fatalf("intact log: %+v, %v", rep, err)
		}
		// Delete the last five entries and fix the head record: the
		// chain alone is whole again.
		exec(t, s, `DELETE FROM audit WHERE seq > 25`)
		if err := store.Rechain(s); err != nil {
			t.Fatal(err)
		}
		if rep, _ := s.VerifyAudit(ctx); !rep.OK {
			t.Fatalf("the attack should pass the chain alone: %+v", rep)
		}
		rep, _ = s.VerifyAuditSigned(ctx, pub, nil)
		if rep.OK || !rep.Truncated || rep.BrokenAt != 26 || !strings.Contains(rep.Reason, "entries were removed") {
			t.Errorf("truncated log: %+v", rep)
		}
	})
}

func TestCheckpointsCatchRechaining(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		pub, key, _ := ed25519.GenerateKey(rand.Reader)
		checkpointedLog(t, s, key, 30)
		exported := exportAll(t, s, pub)
		exec(t, s, `UPDATE audit SET actor = 'mallory' WHERE seq = 12`)
		if err := store.Rechain(s); err != nil {
			t.Fatal(err)
		}
		if rep, _ := s.VerifyAudit(ctx); !rep.OK {
			t.Fatalf("the attack should pass the chain alone: %+v", rep)
		}
		rep, _ := s.VerifyAuditSigned(ctx, pub, nil)
		if rep.OK || rep.BrokenAt != 20 || !strings.Contains(rep.Reason, "rewritten") {
			t.Errorf("re-chained log: %+v", rep)
		}
		// Deleting the checkpoints too passes the database's own
		// check, but not the exported copy.
		exec(t, s, `DELETE FROM audit_checkpoints`)
		if rep, _ := s.VerifyAuditSigned(ctx, pub, nil); !rep.OK || rep.Checkpoints != 0 {
			t.Fatalf("without checkpoints: %+v", rep)
		}
		epub, cs, err := store.ParseCheckpoints(bytes.NewReader(exported))
		if err != nil || !bytes.Equal(epub, pub) || len(cs) != 3 {
			t.Fatalf("parse export: %v, %d checkpoints", err, len(cs))
		}
		rep, _ = s.VerifyAuditSigned(ctx, epub, cs)
		if rep.OK || rep.BrokenAt != 20 {
			t.Errorf("re-chained log against the export: %+v", rep)
		}
	})
}

func TestCheckpointsDeletedFromDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		pub, key, _ := ed25519.GenerateKey(rand.Reader)
		checkpointedLog(t, s, key, 30)
		_, cs, err := store.ParseCheckpoints(bytes.NewReader(exportAll(t, s, pub)))
		if err != nil {
			t.Fatal(err)
		}
		exec(t, s, `DELETE FROM audit_checkpoints WHERE seq = 30`)
		rep, _ := s.VerifyAuditSigned(ctx, pub, cs)
		if rep.OK || rep.BrokenAt != 30 || !strings.Contains(rep.Reason, "missing from the database") {
			t.Errorf("deleted checkpoint: %+v", rep)
		}
	})
}

func TestCheckpointBadSignature(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		pub, key, _ := ed25519.GenerateKey(rand.Reader)
		checkpointedLog(t, s, key, 20)
		// A checkpoint forged without the key, for a rewritten chain.
		_, other, _ := ed25519.GenerateKey(rand.Reader)
		exec(t, s, `UPDATE audit SET actor = 'mallory' WHERE seq = 3`)
		if err := store.Rechain(s); err != nil {
			t.Fatal(err)
		}
		exec(t, s, `DELETE FROM audit_checkpoints`)
		seq, hash, _ := s.AuditHead(ctx)
		forged := store.SignCheckpoint(other, seq, hash, time.Now())
		if err := s.AddAuditCheckpoint(ctx, &forged); err != nil {
			t.Fatal(err)
		}
		rep, _ := s.VerifyAuditSigned(ctx, pub, nil)
		if rep.OK || rep.BrokenAt != 20 || !strings.Contains(rep.Reason, "bad signature") {
			t.Errorf("forged checkpoint: %+v", rep)
		}
		// Without a key, the hash matches: nothing proves who signed.
		if rep, _ := s.VerifyAuditSigned(ctx, nil, nil); !rep.OK || rep.SignaturesChecked {
			t.Errorf("unkeyed check: %+v", rep)
		}
	})
}

func exportAll(t *testing.T, s *store.DB, pub ed25519.PublicKey) []byte {
	t.Helper()
	cs, err := s.ListAuditCheckpoints(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := store.WriteCheckpoints(&b, pub, cs); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

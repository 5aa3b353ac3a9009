package domain

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// TestCheckpointAudit signs the head every CheckpointEvery entries, or
// on force when it moved at all, and the signature verifies.
func TestCheckpointAudit(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	s, st := newInsightService(t, Options{AuditKey: key, CheckpointEvery: 3})
	ctx := context.Background()
	appendAudit(t, st, store.AuditEvent{Actor: "u_a", Action: "login"}, store.AuditEvent{Actor: "u_a", Action: "login"})
	signed, err := s.CheckpointAudit(ctx, -1, false)
	if err != nil || signed != 0 {
		t.Fatalf("two entries, not forced: signed %d, %v", signed, err)
	}
	appendAudit(t, st, store.AuditEvent{Actor: "u_a", Action: "login"})
	if signed, err = s.CheckpointAudit(ctx, signed, false); err != nil || signed != 3 {
		t.Fatalf("three entries: signed %d, %v", signed, err)
	}
	appendAudit(t, st, store.AuditEvent{Actor: "u_a", Action: "login"})
	if signed, err = s.CheckpointAudit(ctx, signed, true); err != nil || signed != 4 {
		t.Fatalf("forced: signed %d, %v", signed, err)
	}
	rep, err := s.VerifyAudit(ctx, auditor)
	if err != nil || !rep.OK || rep.Checkpoints != 2 || rep.SignedThrough != 4 || !rep.SignaturesChecked {
		t.Errorf("verify: %+v, %v", rep, err)
	}
}

func TestCheckpointAuditWithoutKey(t *testing.T) {
	s, st := newInsightService(t, Options{})
	appendAudit(t, st, store.AuditEvent{Actor: "u_a", Action: "login"})
	if signed, err := s.CheckpointAudit(context.Background(), -1, true); err != nil || signed != -1 {
		t.Errorf("no key: signed %d, %v", signed, err)
	}
	if _, err := st.LastAuditCheckpoint(context.Background()); err == nil {
		t.Error("a checkpoint was stored without a key")
	}
}

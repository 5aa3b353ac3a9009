package server

import (
	"context"
	"crypto/ed25519"
	"errors"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// The checkpointer signs the audit chain's head with Options.AuditKey
// every Options.CheckpointEvery entries, every CheckpointInterval while
// new entries arrive, and once more when the server closes, so that
// whoever can write the database cannot remove or re-chain signed
// entries unnoticed (see store.VerifyAuditSigned). Its key never enters
// the database.

// auditAppended tells the checkpointer that entries were added.
func (s *Server) auditAppended() {
	if s.opts.AuditKey == nil {
		return
	}
	select {
	case s.cpPoke <- struct{}{}:
	default:
	}
}

func (s *Server) checkpointLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.CheckpointInterval)
	defer t.Stop()
	var signed int64 = -1 // unknown until read
	for {
		force := false
		select {
		case <-s.stop:
			s.checkpoint(&signed, true)
			return
		case <-t.C:
			force = true
		case <-s.cpPoke:
		}
		s.checkpoint(&signed, force)
	}
}

// checkpoint signs the head when it is CheckpointEvery entries past the
// last checkpoint, or when force is set and it is past it at all.
// *signed caches the last checkpoint's entry between calls.
func (s *Server) checkpoint(signed *int64, force bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if *signed < 0 {
		c, err := s.st.LastAuditCheckpoint(ctx)
		switch {
		case errors.Is(err, store.ErrNotFound):
			*signed = 0
		case err != nil:
			s.log.Error("console: reading the last audit checkpoint", "err", err)
			return
		default:
			*signed = c.Seq
		}
	}
	seq, hash, err := s.st.AuditHead(ctx)
	if err != nil {
		s.log.Error("console: reading the audit head", "err", err)
		return
	}
	if seq <= *signed || !force && seq-*signed < int64(s.opts.CheckpointEvery) {
		return
	}
	c := store.SignCheckpoint(s.opts.AuditKey, seq, hash, s.now())
	if err := s.st.AddAuditCheckpoint(ctx, &c); err != nil {
		s.log.Error("console: storing an audit checkpoint", "seq", seq, "err", err)
		return
	}
	*signed = seq
}

// auditPublicKey is the key checkpoints verify with; nil without a key.
func (s *Server) auditPublicKey() ed25519.PublicKey {
	if s.opts.AuditKey == nil {
		return nil
	}
	return s.opts.AuditKey.Public().(ed25519.PublicKey)
}

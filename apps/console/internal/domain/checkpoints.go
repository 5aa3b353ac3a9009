package domain

import (
	"context"
	"errors"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// Checkpoints sign the audit chain's head with Options.AuditKey, so that
// whoever can write the database cannot remove or re-chain signed
// entries unnoticed (see store.VerifyAuditSigned). The key never enters
// the database. When to sign is the caller's loop (the server signs
// every Options.CheckpointEvery entries, on a timer while entries arrive
// and once more when it closes); what to sign is here.

// CheckpointAudit signs the head when it is Options.CheckpointEvery
// entries past the last checkpoint, or, with force, when it is past it
// at all. signed is the last checkpoint's entry as the previous call
// returned it, negative when unknown (it is then read); CheckpointAudit
// returns it anew. Without an audit key it does nothing.
func (s *Service) CheckpointAudit(ctx context.Context, signed int64, force bool) (int64, error) {
	if s.opts.AuditKey == nil {
		return signed, nil
	}
	if signed < 0 {
		c, err := s.st.LastAuditCheckpoint(ctx)
		switch {
		case errors.Is(err, store.ErrNotFound):
			signed = 0
		case err != nil:
			s.log.Error("console: reading the last audit checkpoint", "err", err)
			return signed, err
		default:
			signed = c.Seq
		}
	}
	seq, hash, err := s.st.AuditHead(ctx)
	if err != nil {
		s.log.Error("console: reading the audit head", "err", err)
		return signed, err
	}
	if seq <= signed || !force && seq-signed < int64(s.opts.CheckpointEvery) {
		return signed, nil
	}
	c := store.SignCheckpoint(s.opts.AuditKey, seq, hash, s.now())
	if err := s.st.AddAuditCheckpoint(ctx, &c); err != nil {
		s.log.Error("console: storing an audit checkpoint", "seq", seq, "err", err)
		return signed, err
	}
	return seq, nil
}

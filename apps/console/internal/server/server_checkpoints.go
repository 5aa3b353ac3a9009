package server

import (
	"context"
	"time"
)

// The checkpointer signs the audit chain's head (domain.CheckpointAudit)
// every Options.CheckpointEvery entries, every CheckpointInterval while
// new entries arrive, and once more when the server closes. Its key,
// Options.AuditKey, never enters the database.

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

// checkpoint signs the head when it is due (or, with force, past the
// last checkpoint at all); *signed caches the last checkpoint's entry
// between calls. Failures are logged by the domain and retried on the
// next wake-up.
func (s *Server) checkpoint(signed *int64, force bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	*signed, _ = s.dom.CheckpointAudit(ctx, *signed, force)
}

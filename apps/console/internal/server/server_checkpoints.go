package server

import (
	"context"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// The checkpointer signs the audit chain's head (domain.CheckpointAudit)
// every Options.CheckpointEvery entries, every CheckpointInterval while
// new entries arrive, and once more when the server closes. Its key,
// Options.AuditKey, never enters the database.

// Each tenant's log has its own chain and its own checkpoints, signed
// with the one key.

// auditAppended tells the checkpointer that entries were added to
// tenant's log.
func (s *Server) auditAppended(tenant string) {
	if s.opts.AuditKey == nil {
		return
	}
	s.cpMu.Lock()
	s.cpDirty[tenant] = true
	s.cpMu.Unlock()
	select {
	case s.cpPoke <- struct{}{}:
	default:
	}
}

func (s *Server) checkpointLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.CheckpointInterval)
	defer t.Stop()
	signed := map[string]int64{} // each tenant's last checkpoint; absent: unknown
	for {
		select {
		case <-s.stop:
			s.checkpointAll(signed)
			return
		case <-t.C:
			s.checkpointAll(signed)
		case <-s.cpPoke:
			s.cpMu.Lock()
			dirty := s.cpDirty
			s.cpDirty = map[string]bool{}
			s.cpMu.Unlock()
			for tenant := range dirty {
				if dom, err := s.plat.Service(s.bg, tenant); err == nil {
					s.checkpoint(dom, signed, false)
				}
			}
		}
	}
}

// checkpointAll signs every opened tenant's head past its last
// checkpoint.
func (s *Server) checkpointAll(signed map[string]int64) {
	for _, dom := range s.plat.Opened() {
		s.checkpoint(dom, signed, true)
	}
}

// checkpoint signs dom's head when it is due (or, with force, past the
// last checkpoint at all); signed caches each tenant's last checkpoint
// between calls. Failures are logged by the domain and retried on the
// next wake-up.
func (s *Server) checkpoint(dom *domain.Service, signed map[string]int64, force bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	last, ok := signed[dom.TenantID()]
	if !ok {
		last = -1
	}
	signed[dom.TenantID()], _ = dom.CheckpointAudit(ctx, last, force)
}

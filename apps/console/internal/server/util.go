package server

import (
	"context"
	"encoding/json"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

type auditEvent = store.AuditEvent

func contextWithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

// audit appends one console action to the audit log; failures are
// logged, not returned, because the action itself already happened.
func (s *Server) audit(ctx context.Context, actor, action, resource, effect string, detail any) {
	var d json.RawMessage
	if detail != nil {
		d, _ = json.Marshal(detail)
	}
	if _, _, err := s.st.AppendAudit(ctx, []auditEvent{{Time: s.now(), Actor: actor, Action: action, Resource: resource, Effect: effect, Detail: d}}); err != nil {
		s.log.Error("console: audit append failed", "action", action, "err", err)
		return
	}
	s.auditAppended()
}

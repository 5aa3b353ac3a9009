package server

import (
	"context"
	"encoding/json"
)

// audit appends one console action to the audit log; failures are
// logged, not returned, because the action itself already happened.
//
// It is the transitional writer: operations that have moved to package
// domain record their actions there (domain.Service.record), and this
// goes once the handlers that still call it have moved too.
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

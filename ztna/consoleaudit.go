package ztna

import (
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// ConsoleAudit is the AuditSink of a gateway managed by a console: every
// event is emitted to the control-plane client, which spools it durably and
// delivers it exactly once to the console's audit log.
type ConsoleAudit struct {
	Client *controlplane.Client
}

var _ AuditSink = (*ConsoleAudit)(nil)

// Record implements AuditSink. Request decisions are recorded as the
// console's "decision" kind; flows and revocations keep their kind.
func (a *ConsoleAudit) Record(ev *Event) error {
	kind := ev.Kind
	if kind == EventRequest {
		kind = EventDecision
	}
	msg := ev.Reason
	if ev.Method != "" {
		msg = ev.Method + " " + ev.Path + " " + msg
	}
	return a.Client.Emit(controlplane.Event{
		ID:       controlplane.NewEventID(),
		Time:     ev.Time,
		Kind:     kind,
		Subject:  ev.Subject,
		Device:   ev.Device,
		Resource: ev.Resource,
		Effect:   ev.Effect,
		Rule:     ev.Rule,
		Source:   ev.Source,
		Bytes:    int64(ev.BytesIn + ev.BytesOut),
		Message:  msg,
	})
}

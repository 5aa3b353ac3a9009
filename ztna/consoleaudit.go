package ztna

import (
	"encoding/json"

	"github.com/gonaut/gonaut/ztna/controlplane"
)

// ConsoleAudit is the AuditSink of a gateway managed by a console: every
// event is emitted to the control-plane client, which spools it durably and
// delivers it exactly once to the console's audit log. Analytics alerts
// (EventAlert) go the same way, with their detector, severity, score and
// evidence, and the console also stores each as one of its alerts.
type ConsoleAudit struct {
	Client *controlplane.Client
}

var _ AuditSink = (*ConsoleAudit)(nil)

// consoleKind is the controlplane kind an event of kind k is sent as:
// request decisions are the console's "decision"; every other kind is
// sent as it is, and is one of controlplane.EventKinds, the only kinds
// a console accepts.
func consoleKind(k string) string {
	if k == EventRequest {
		return controlplane.KindDecision
	}
	return k
}

// Record implements AuditSink. Request decisions are recorded as the
// console's "decision" kind; flows, revocations, alerts and device
// presence keep their kind.
func (a *ConsoleAudit) Record(ev *Event) error {
	kind := consoleKind(ev.Kind)
	msg := ev.Reason
	if ev.Method != "" {
		msg = ev.Method + " " + ev.Path + " " + msg
	}
	var alert *controlplane.Alert
	if ev.Alert != nil {
		alert = &controlplane.Alert{Detector: ev.Alert.Detector.String(), Severity: ev.Alert.Severity.String(), Score: ev.Alert.Score}
		if len(ev.Alert.Evidence) > 0 {
			// Evidence is numbers and strings by name: it marshals.
			alert.Evidence, _ = json.Marshal(ev.Alert.Evidence)
		}
	}
	var req json.RawMessage
	if kind == EventDecision && ev.Request.Resource.Name != "" {
		// The request policy saw, for the console's what-if replays.
		req, _ = json.Marshal(&ev.Request)
	}
	return a.Client.Emit(controlplane.Event{
		Request:  req,
		Alert:    alert,
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

package domain

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// A gateway is trusted to report what it enforced, and no more. Every
// event it posts is checked and stamped before it reaches the audit log,
// the alerts and the live streams:
//
//   - its kind is one of controlplane.EventKinds, what gateways emit,
//     never a console action such as login or policy.save;
//   - its subject, when it has one, is a user of the gateway's bundle,
//     and its device a device of the bundle owned by that subject: the
//     audit entry's actor is a bundle user's ID or "gateway:<name>",
//     never a console actor (an email, an API key, "system");
//   - its effect is allow, deny or none;
//   - it is stored as the authenticated gateway's, whatever it says;
//   - a time further from the console's clock than the clock-skew window
//     (setting gateways.clock_skew, default 5m) is not believed: the
//     entry is stored at the time the console received it, with
//     detail.clock_skew set and the gateway's own time in
//     detail.reported_time.
//
// An event failing a check is refused alone, listed with the reason in
// the answer's Rejected; the rest of the batch is stored. Refusing the
// whole batch would hold back every later event of the gateway's spool,
// which the gateway sends again and again.

// maxEventID bounds an event's id.
const maxEventID = 128

// checkEvent checks the fields of e that need no store: its id, kind and
// effect. The error says what is wrong, for the gateway's log.
func checkEvent(e *controlplane.Event) error {
	if e.ID == "" || len(e.ID) > maxEventID {
		return fmt.Errorf("an event needs an id of 1 to %d bytes", maxEventID)
	}
	if !slices.Contains(controlplane.EventKinds, e.Kind) {
		return fmt.Errorf("kind %q is not a gateway event (want one of %s)", e.Kind, strings.Join(controlplane.EventKinds, ", "))
	}
	switch e.Effect {
	case "", "allow", "deny":
	default:
		return fmt.Errorf("effect %q: want allow, deny or none", e.Effect)
	}
	return nil
}

// GatewayEvent is a gateway event as stored, with the gateway it came
// from: what the live streams carry.
type GatewayEvent struct {
	controlplane.Event
	// Gateway is the ID of the gateway whose credential posted it.
	Gateway string
	// ClockSkew is set when the gateway's time was outside the window;
	// Time is then when the console received it and ReportedTime the
	// gateway's own.
	ClockSkew    bool
	ReportedTime time.Time
}

// EventDetail is what an audit entry from a gateway keeps beyond the
// indexed columns, as JSON: the format of the entry's detail, which
// whoever reads gateway entries decodes.
type EventDetail struct {
	Device  string          `json:"device,omitempty"`
	Rule    string          `json:"rule,omitempty"`
	Source  string          `json:"source,omitempty"`
	Bytes   int64           `json:"bytes,omitempty"`
	Message string          `json:"message,omitempty"`
	Request json.RawMessage `json:"request,omitempty"`
	// ClockSkew and ReportedTime: see GatewayEvent.
	ClockSkew    bool      `json:"clock_skew,omitempty"`
	ReportedTime time.Time `json:"reported_time,omitzero"`
}

// stampEvent turns e, an event of gateway g that passed checkEvent and
// the bundle check, received at now, into its audit entry and its live
// form: the gateway is g, the actor the subject or g, and a time outside
// now ± skew is replaced by now, the gateway's kept as reported.
func stampEvent(g Gateway, e *controlplane.Event, now time.Time, skew time.Duration) (store.AuditEvent, GatewayEvent) {
	live := GatewayEvent{Event: *e, Gateway: g.ID}
	if off := e.Time.Sub(now); e.Time.IsZero() || off > skew || off < -skew {
		live.Time, live.ClockSkew, live.ReportedTime = now, true, e.Time
	}
	actor := e.Subject
	if actor == "" {
		actor = g.actor().ID
	}
	detail, _ := json.Marshal(EventDetail{
		Device: e.Device, Rule: e.Rule, Source: e.Source, Bytes: e.Bytes, Message: e.Message, Request: e.Request,
		ClockSkew: live.ClockSkew, ReportedTime: live.ReportedTime,
	})
	return store.AuditEvent{
		Time: live.Time, Actor: actor, Action: e.Kind, Resource: e.Resource, Effect: e.Effect,
		Gateway: g.ID, EventID: g.ID + ":" + e.ID, Detail: detail,
	}, live
}

// GatewayEvents stores a batch of gateway g's events in the audit log,
// each once, refusing those that fail the checks above one by one, and
// stores the alerts among them. It returns the answer for the gateway
// and the stored events' live form. known is the configuration version
// the caller last saw (0: unknown), under which bundle membership may
// be remembered. When it returns, the batch is durable: an acknowledged
// event is never lost.
func (s *Service) GatewayEvents(ctx context.Context, g Gateway, events []controlplane.Event, known int64) (controlplane.EventAck, []GatewayEvent, error) {
	now, skew := s.now(), s.clockSkew(ctx)
	members := s.bundleMembers(known)
	var ack controlplane.EventAck
	evs := make([]store.AuditEvent, 0, len(events))
	lives := make([]GatewayEvent, 0, len(events))
	reject := func(i int, e *controlplane.Event, err error) {
		rj := controlplane.Rejection{Index: i, Reason: err.Error()}
		if len(e.ID) <= maxEventID {
			rj.ID = e.ID
		}
		ack.Rejected = append(ack.Rejected, rj)
	}
	for i := range events {
		e := &events[i]
		if err := checkEvent(e); err != nil {
			reject(i, e, err)
			continue
		}
		if err := members.check(ctx, e.Subject, e.Device); err != nil {
			if !errors.Is(err, errOutsideBundle) {
				return controlplane.EventAck{}, nil, fromStore(err)
			}
			reject(i, e, err)
			continue
		}
		ev, live := stampEvent(g, e, now, skew)
		evs = append(evs, ev)
		lives = append(lives, live)
	}
	if len(ack.Rejected) > 0 {
		// A gateway sending what it never emits is worth an entry of its
		// own: its credential may be in other hands.
		s.log.Warn("console: refused gateway events", "gateway", g.Name, "refused", len(ack.Rejected), "first", ack.Rejected[0].Reason)
		s.record(ctx, g.actor(), "gateway.events_refused", g.Name, "deny",
			map[string]any{"refused": len(ack.Rejected), "first": ack.Rejected[0]})
	}
	if len(evs) > 0 {
		err := s.withinQuota(ctx, quotaEvents, len(evs), func() error {
			added, dups, err := s.st.AppendAudit(ctx, evs)
			if err != nil {
				return fromStore(err)
			}
			ack.Accepted, ack.Duplicates = added, dups
			return nil
		})
		if err != nil {
			return controlplane.EventAck{}, nil, err
		}
		if s.opts.AuditAppended != nil {
			s.opts.AuditAppended(s.TenantID())
		}
	}
	// Alerts are stored after the audit entries and before the answer:
	// a batch that failed in between is sent again, and the alert's ID,
	// derived from the event's, stores it once.
	for i := range lives {
		if a := gatewayAlert(g, &lives[i]); a != nil {
			if _, err := s.st.AddAlertOnce(ctx, a); err != nil {
				return controlplane.EventAck{}, nil, fromStore(err)
			}
		}
	}
	if ack.Accepted == 0 {
		lives = nil // nothing new to tell the live streams
	}
	return ack, lives, nil
}

// alertSeverities are the severities a console alert may have: those
// the risk score weighs.
var alertSeverities = map[string]bool{"low": true, "medium": true, "high": true, "critical": true}

// gatewayAlert is the console alert of an event of kind "alert" from
// gateway g, or nil for other events and for alerts without a detector
// or with an unknown severity (those stay in the audit log only: refusing
// them would hold back the events after them in the gateway's spool).
// The alert's ID is derived from the gateway's and the event's, so that a
// redelivered event finds its alert stored.
func gatewayAlert(g Gateway, e *GatewayEvent) *store.Alert {
	if e.Kind != controlplane.KindAlert || e.Alert == nil || e.Alert.Detector == "" || !alertSeverities[e.Alert.Severity] {
		return nil
	}
	sum := sha256.Sum256([]byte(g.ID + ":" + e.ID))
	msg := e.Message
	if msg == "" {
		msg = e.Alert.Detector
	}
	msg = fmt.Sprintf("%s (gateway %s, score %d)", msg, g.Name, e.Alert.Score)
	evidence := e.Alert.Evidence
	if len(evidence) > 0 && !json.Valid(evidence) {
		evidence = nil
	}
	return &store.Alert{
		ID: "a_" + hex.EncodeToString(sum[:10]), Time: e.Time, Severity: e.Alert.Severity,
		Kind: e.Alert.Detector, Subject: e.Subject, Message: msg, Evidence: evidence,
	}
}

// clip shortens a gateway-supplied value quoted in an error.
func clip(v string) string {
	if len(v) > 64 {
		return v[:64] + "…"
	}
	return v
}

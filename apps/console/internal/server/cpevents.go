package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// A gateway is trusted to report what it enforced, and no more. Every
// event it posts to /cp/v1/events is checked and stamped before it
// reaches the audit log, the alerts and the live streams:
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

// SettingClockSkew is how far a gateway event's time may be from the
// console's clock (a Go duration; default 5m).
const SettingClockSkew = domain.SettingClockSkew

const defaultClockSkew = 5 * time.Minute

// clockSkew is the configured clock-skew window; a setting that is not a
// positive duration gives the default.
func (s *Server) clockSkew(r *http.Request) time.Duration {
	d, err := time.ParseDuration(s.setting(r, SettingClockSkew, ""))
	if err != nil || d <= 0 {
		return defaultClockSkew
	}
	return d
}

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

// errOutsideBundle refuses an event or risk report about a subject or
// device that the gateway was never sent.
var errOutsideBundle = errors.New("not in the gateway's bundle")

// gatewayEvent is a gateway event as the live streams carry it: the
// event as stored, with the gateway it came from.
type gatewayEvent struct {
	controlplane.Event
	// Gateway is the ID of the gateway whose credential posted it.
	Gateway string `json:"gateway"`
	// ClockSkew is set when the gateway's time was outside the window;
	// Time is then when the console received it and ReportedTime the
	// gateway's own.
	ClockSkew    bool      `json:"clock_skew,omitempty"`
	ReportedTime time.Time `json:"reported_time,omitzero"`
}

// eventDetail is what an audit entry from a gateway keeps beyond the
// indexed columns.
type eventDetail struct {
	Device  string          `json:"device,omitempty"`
	Rule    string          `json:"rule,omitempty"`
	Source  string          `json:"source,omitempty"`
	Bytes   int64           `json:"bytes,omitempty"`
	Message string          `json:"message,omitempty"`
	Request json.RawMessage `json:"request,omitempty"`
	// ClockSkew and ReportedTime: see gatewayEvent.
	ClockSkew    bool      `json:"clock_skew,omitempty"`
	ReportedTime time.Time `json:"reported_time,omitzero"`
}

// stampEvent turns e, an event of gateway g that passed checkEvent and
// the bundle check, received at now, into its audit entry and its live
// form: the gateway is g, the actor the subject or g, and a time outside
// now ± skew is replaced by now, the gateway's kept as reported.
func stampEvent(g *store.Gateway, e *controlplane.Event, now time.Time, skew time.Duration) (auditEvent, gatewayEvent) {
	live := gatewayEvent{Event: *e, Gateway: g.ID}
	if off := e.Time.Sub(now); e.Time.IsZero() || off > skew || off < -skew {
		live.Time, live.ClockSkew, live.ReportedTime = now, true, e.Time
	}
	actor := e.Subject
	if actor == "" {
		actor = "gateway:" + g.Name
	}
	detail, _ := json.Marshal(eventDetail{
		Device: e.Device, Rule: e.Rule, Source: e.Source, Bytes: e.Bytes, Message: e.Message, Request: e.Request,
		ClockSkew: live.ClockSkew, ReportedTime: live.ReportedTime,
	})
	return auditEvent{
		Time: live.Time, Actor: actor, Action: e.Kind, Resource: e.Resource, Effect: e.Effect,
		Gateway: g.ID, EventID: g.ID + ":" + e.ID, Detail: detail,
	}, live
}

// cpEvents stores a batch of gateway events in the audit log, each once,
// refusing those that fail the checks above one by one. The answer is
// sent only after the batch committed: an acknowledged event is durable.
func (s *Server) cpEvents(w http.ResponseWriter, r *http.Request, p *principal) {
	var b controlplane.EventBatch
	if !decode(w, r, &b) {
		return
	}
	if len(b.Events) > controlplane.MaxBatch {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "at most %d events per batch", controlplane.MaxBatch)
		return
	}
	ctx := r.Context()
	g := p.gateway
	now, skew := s.now(), s.clockSkew(r)
	members := s.bundleMembers()
	var ack controlplane.EventAck
	evs := make([]auditEvent, 0, len(b.Events))
	lives := make([]gatewayEvent, 0, len(b.Events))
	reject := func(i int, e *controlplane.Event, err error) {
		rj := controlplane.Rejection{Index: i, Reason: err.Error()}
		if len(e.ID) <= maxEventID {
			rj.ID = e.ID
		}
		ack.Rejected = append(ack.Rejected, rj)
	}
	for i := range b.Events {
		e := &b.Events[i]
		if err := checkEvent(e); err != nil {
			reject(i, e, err)
			continue
		}
		if err := members.check(ctx, e.Subject, e.Device); err != nil {
			if !errors.Is(err, errOutsideBundle) {
				s.storeError(w, err)
				return
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
		s.audit(ctx, "gateway:"+g.Name, "gateway.events_refused", g.Name, "deny",
			map[string]any{"refused": len(ack.Rejected), "first": ack.Rejected[0]})
	}
	if len(evs) > 0 {
		added, dups, err := s.st.AppendAudit(ctx, evs)
		if err != nil {
			s.storeError(w, err)
			return
		}
		s.auditAppended()
		ack.Accepted, ack.Duplicates = added, dups
	}
	// Alerts are stored after the audit entries and before the answer:
	// a batch that failed in between is sent again, and the alert's ID,
	// derived from the event's, stores it once.
	for i := range lives {
		if a := gatewayAlert(g, &lives[i]); a != nil {
			if _, err := s.st.AddAlertOnce(ctx, a); err != nil {
				s.storeError(w, err)
				return
			}
		}
	}
	if ack.Accepted > 0 {
		decisions := 0
		for i := range lives {
			s.hub.publish(s.hub.event(lives[i].Kind, lives[i]))
			if lives[i].Kind == controlplane.KindDecision {
				decisions++
			}
		}
		if decisions > 0 {
			s.hub.publish(s.hub.event("summary", map[string]int{"decisions": decisions}))
		}
	}
	writeJSON(w, http.StatusOK, ack)
}

// gatewayAlert is the console alert of an event of kind "alert" from
// gateway g, or nil for other events and for alerts without a detector
// or with an unknown severity (those stay in the audit log only: refusing
// them would hold back the events after them in the gateway's spool).
// The alert's ID is derived from the gateway's and the event's, so that a
// redelivered event finds its alert stored.
func gatewayAlert(g *store.Gateway, e *gatewayEvent) *store.Alert {
	if e.Kind != controlplane.KindAlert || e.Alert == nil || e.Alert.Detector == "" || !domain.ValidSeverity(e.Alert.Severity) {
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

// bundleMembers answers whether subjects and devices are in the bundle
// the console sends a gateway. Every gateway's bundle holds every user
// and every device (see Server.bundle), so membership is existence in
// the store; should bundles ever narrow per gateway, this is the rule
// that must follow.
type bundleMembers struct {
	st    store.Store
	known *knownMembers
	// version is the configuration version when the request began;
	// what the store says is remembered under it.
	version int64
}

// knownMembers remembers, for one configuration version, the users and
// devices found in the store, so that a gateway's stream of events does
// not read the same rows for every batch. Only what exists is
// remembered: a subject not found is read again next time, since a
// gateway may hold a bundle newer than the version this console has
// seen yet. Every change to users or devices moves the version, which
// empties it.
type knownMembers struct {
	mu      sync.Mutex // guards the fields below
	version int64
	users   map[string]struct{}
	owners  map[string]string // device ID to owner
}

// maxKnownMembers bounds knownMembers; past it, it starts afresh.
const maxKnownMembers = 100000

func (k *knownMembers) lookup(version int64, user, device string) (userKnown bool, owner string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if version == 0 || k.version != version {
		return false, ""
	}
	_, userKnown = k.users[user]
	return userKnown, k.owners[device]
}

func (k *knownMembers) remember(version int64, user, device, owner string) {
	if version == 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.version != version || len(k.users)+len(k.owners) >= maxKnownMembers {
		k.version, k.users, k.owners = version, map[string]struct{}{}, map[string]string{}
	}
	if user != "" {
		k.users[user] = struct{}{}
	}
	if device != "" {
		k.owners[device] = owner
	}
}

func (s *Server) bundleMembers() *bundleMembers {
	v, _ := s.hub.current()
	return &bundleMembers{st: s.st, known: &s.known, version: v}
}

// user reports whether id is a user of the bundle.
func (m *bundleMembers) user(ctx context.Context, id string) (bool, error) {
	if ok, _ := m.known.lookup(m.version, id, ""); ok {
		return true, nil
	}
	_, err := m.st.User(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	m.known.remember(m.version, id, "", "")
	return true, nil
}

// owner returns the owner of device id, or "" when the bundle has no such
// device.
func (m *bundleMembers) owner(ctx context.Context, id string) (string, error) {
	if _, o := m.known.lookup(m.version, "", id); o != "" {
		return o, nil
	}
	d, err := m.st.Device(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	m.known.remember(m.version, "", id, d.Owner)
	return d.Owner, nil
}

// check refuses, with an error wrapping errOutsideBundle, a subject that
// is not a user of the bundle, a device that is not one of its devices,
// and a device with a subject other than its owner. Other errors are the
// store's.
func (m *bundleMembers) check(ctx context.Context, subject, device string) error {
	if subject != "" {
		ok, err := m.user(ctx, subject)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("subject %q: %w", clip(subject), errOutsideBundle)
		}
	}
	if device != "" {
		owner, err := m.owner(ctx, device)
		if err != nil {
			return err
		}
		if owner == "" {
			return fmt.Errorf("device %q: %w", clip(device), errOutsideBundle)
		}
		if subject != "" && owner != subject {
			return fmt.Errorf("device %q belongs to another subject than %q: %w", clip(device), clip(subject), errOutsideBundle)
		}
	}
	return nil
}

// clip shortens a gateway-supplied value quoted in an error.
func clip(v string) string {
	if len(v) > 64 {
		return v[:64] + "…"
	}
	return v
}

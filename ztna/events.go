package ztna

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/gonaut/gonaut/analytics"
	"github.com/gonaut/gonaut/policy"
	"github.com/gonaut/gonaut/tunnel"
)

// Event kinds.
const (
	// EventDecision is one policy decision on a new flow.
	EventDecision = "decision"
	// EventRequest is one policy decision on an HTTP request.
	EventRequest = "request"
	// EventFlow is one closed flow, with its bytes and duration.
	EventFlow = "flow"
	// EventRevoke is a live flow cut by a re-decision.
	EventRevoke = "revoke"
	// EventAlert is an alert raised by the gateway's analytics; the
	// event's Alert holds it.
	EventAlert = "alert"
)

// Event is one entry of the audit trail: a decision, an HTTP request's
// decision, a revocation, a closed flow or an analytics alert.
type Event struct {
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"`
	Subject  string    `json:"subject,omitempty"`
	Device   string    `json:"device,omitempty"`
	Peer     string    `json:"peer,omitempty"`   // WireGuard public key
	Source   string    `json:"source,omitempty"` // the peer's outer address
	Inner    string    `json:"inner,omitempty"`  // the peer's address in the tunnel
	Country  string    `json:"country,omitempty"`
	ASN      uint32    `json:"asn,omitempty"`
	Resource string    `json:"resource,omitempty"`
	RKind    string    `json:"resource_kind,omitempty"`
	Method   string    `json:"method,omitempty"`
	Path     string    `json:"path,omitempty"`
	Effect   string    `json:"effect,omitempty"` // allow or deny
	Rule     string    `json:"rule,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Upstream string    `json:"upstream,omitempty"`
	BytesIn  uint64    `json:"bytes_in,omitempty"`  // peer to resource
	BytesOut uint64    `json:"bytes_out,omitempty"` // resource to peer
	Duration float64   `json:"duration_s,omitempty"`
	// Alert is the analytics alert of an EventAlert, raised by the
	// event recorded just before it.
	Alert *analytics.Alert `json:"alert,omitempty"`
	// Request is the request policy decided, on decision and request
	// events: what a what-if simulation replays. Credentials in it are
	// redacted and its size is bounded (see RecordedRequest).
	Request policy.Request `json:"request,omitzero"`
	// RequestTrimmed says Request lost its headers and attributes to the
	// size bound.
	RequestTrimmed bool `json:"request_trimmed,omitempty"`

	// Set on the flow's path and turned into Peer, Source and Inner by
	// the event writer, so that formatting stays off that path.
	peerKey      tunnel.Key
	outer, inner netip.Addr
}

// format fills in the text fields that the flow's path left raw, and
// redacts and bounds the recorded request.
func (ev *Event) format() {
	ev.RequestTrimmed = recordRequest(&ev.Request)
	if ev.Peer == "" && !ev.peerKey.IsZero() {
		ev.Peer = ev.peerKey.String()
	}
	if ev.Source == "" && ev.outer.IsValid() {
		ev.Source = ev.outer.String()
	}
	if ev.Inner == "" && ev.inner.IsValid() {
		ev.Inner = ev.inner.String()
	}
}

// An AuditSink receives every event. The gateway calls Record from one
// goroutine of its own, in the order the events happened, never from a
// flow's path; a slow sink delays the audit trail and, once the gateway's
// queue of 8,192 events is full, new flows. Record must be safe for
// concurrent use (a sink may serve several gateways).
type AuditSink interface {
	Record(ev *Event) error
}

// FileAudit is the default AuditSink: one JSON line per event, appended to
// a file with one write per Record (per batch, for the gateway's own
// writer), never half a line.
type FileAudit struct {
	mu sync.Mutex
	// guarded by mu
	f   *os.File
	buf bytes.Buffer
}

var _ AuditSink = (*FileAudit)(nil)

// OpenFileAudit opens (creating or appending to) a JSON lines audit file.
func OpenFileAudit(path string) (*FileAudit, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("ztna: audit file: %w", err)
	}
	return &FileAudit{f: f}, nil
}

// Record implements AuditSink.
func (a *FileAudit) Record(ev *Event) error {
	return a.recordBatch([]*Event{ev})
}

// recordBatch appends evs with one write, of whole lines only, so that a
// reader following the file never sees half an event: the gateway's event
// writer hands it everything queued since its last write.
func (a *FileAudit) recordBatch(evs []*Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return ErrClosed
	}
	a.buf.Reset()
	enc := json.NewEncoder(&a.buf)
	enc.SetEscapeHTML(false)
	for _, ev := range evs {
		if err := enc.Encode(ev); err != nil {
			return err
		}
	}
	_, err := a.f.Write(a.buf.Bytes())
	if a.buf.Cap() > 1<<20 {
		a.buf = bytes.Buffer{} // do not keep a burst's buffer
	}
	return err
}

type batchRecorder interface {
	recordBatch(evs []*Event) error
}

// Close closes the file; it is safe to call twice.
func (a *FileAudit) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return nil
	}
	err := a.f.Close()
	a.f = nil
	return err
}

// metrics are the gateway's OpenTelemetry instruments.
type metrics struct {
	decisions metric.Int64Counter
	flows     metric.Int64UpDownCounter
	bytes     metric.Int64Counter
	duration  metric.Float64Histogram
	latency   metric.Float64Histogram
	revoked   metric.Int64Counter

	// attribute sets reused for every event
	effectKind sync.Map // "effect\x00kind" -> metric.MeasurementOption
	dirIn      metric.MeasurementOption
	dirOut     metric.MeasurementOption
}

// event updates the instruments for one event.
func (m *metrics) event(ctx context.Context, ev *Event) {
	switch ev.Kind {
	case EventDecision, EventRequest:
		k := ev.Effect + "\x00" + ev.RKind
		o, ok := m.effectKind.Load(k)
		if !ok {
			o, _ = m.effectKind.LoadOrStore(k, metric.WithAttributeSet(attribute.NewSet(
				attribute.String("effect", ev.Effect), attribute.String("kind", ev.RKind))))
		}
		m.decisions.Add(ctx, 1, o.(metric.MeasurementOption))
	case EventFlow:
		m.bytes.Add(ctx, int64(ev.BytesIn), m.dirIn)
		m.bytes.Add(ctx, int64(ev.BytesOut), m.dirOut)
		m.duration.Record(ctx, ev.Duration)
	case EventRevoke:
		m.revoked.Add(ctx, 1)
	}
}

func newMetrics(mp metric.MeterProvider) *metrics {
	m := mp.Meter(ScopeName)
	var x metrics
	x.decisions, _ = m.Int64Counter("gonaut.ztna.decisions", metric.WithDescription("Policy decisions on flows and HTTP requests, by effect and resource kind."))
	x.flows, _ = m.Int64UpDownCounter("gonaut.ztna.flows.active", metric.WithDescription("Live flows through the gateway."))
	x.bytes, _ = m.Int64Counter("gonaut.ztna.flow.bytes", metric.WithUnit("By"), metric.WithDescription("Bytes carried by closed flows, by direction."))
	x.duration, _ = m.Float64Histogram("gonaut.ztna.flow.duration", metric.WithUnit("s"), metric.WithDescription("Duration of closed flows."))
	x.latency, _ = m.Float64Histogram("gonaut.ztna.decision.duration", metric.WithUnit("s"), metric.WithDescription("Time to identify, enrich and decide a flow."))
	x.revoked, _ = m.Int64Counter("gonaut.ztna.revocations", metric.WithDescription("Live flows cut by a re-decision."))
	x.dirIn = metric.WithAttributeSet(attribute.NewSet(attribute.String("direction", "in")))
	x.dirOut = metric.WithAttributeSet(attribute.NewSet(attribute.String("direction", "out")))
	return &x
}

// eventQueueLen bounds the events waiting for the writer; past it, emit
// blocks, so that a stuck sink slows new flows rather than losing their
// audit trail.
const eventQueueLen = 8192

// eventWriter takes events off the flows' paths: emit queues them, and one
// goroutine formats them and hands them, in batches, to the audit sink,
// analytics, slog and the metrics.
type eventWriter struct {
	ch   chan *Event
	done chan struct{} // closed when the writer has exited

	mu sync.RWMutex
	// guarded by mu
	closed bool
}

func (g *Gateway) startEvents() {
	g.evw = &eventWriter{ch: make(chan *Event, eventQueueLen), done: make(chan struct{})}
	go g.writeEvents()
}

// stopEvents records everything queued and stops the writer; later events
// are recorded on the caller's goroutine.
func (g *Gateway) stopEvents() {
	w := g.evw
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	close(w.ch)
	w.mu.Unlock()
	<-w.done
}

// emit records ev: queued for the event writer, or at once once the
// writer has stopped. The caller must not touch ev afterwards.
func (g *Gateway) emit(ev *Event) {
	w := g.evw
	w.mu.RLock()
	if !w.closed {
		w.ch <- ev
		w.mu.RUnlock()
		return
	}
	w.mu.RUnlock()
	g.record([]*Event{ev})
}

func (g *Gateway) writeEvents() {
	defer close(g.evw.done)
	batch := make([]*Event, 0, 256)
	for ev := range g.evw.ch {
		batch = append(batch[:0], ev)
	more:
		for len(batch) < cap(batch) {
			select {
			case ev, ok := <-g.evw.ch:
				if !ok {
					break more
				}
				batch = append(batch, ev)
			default:
				break more
			}
		}
		g.record(batch)
		clear(batch)
	}
}

// record sends evs to the metrics, the audit sink, analytics and slog.
func (g *Gateway) record(evs []*Event) {
	ctx := context.Background()
	for _, ev := range evs {
		ev.format()
		g.metrics.event(ctx, ev)
	}
	// Analytics first: a risk score that moves re-decides live flows, and
	// whoever reads the audit trail finds the risk already updated. The
	// alerts raised join the batch as events of their own, so that the
	// audit sink (a console, through ConsoleAudit) receives them too.
	var alerts []*Event
	if g.analytics != nil {
		for _, ev := range evs {
			if ev.Subject != "" && ev.Kind != EventRevoke && ev.Kind != EventAlert {
				alerts = g.observe(ev, alerts)
			}
		}
	}
	if len(alerts) > 0 {
		g.kick() // a risk score moved: re-decide live flows
		evs = append(evs[:len(evs):len(evs)], alerts...)
	}
	if g.audit != nil {
		var err error
		if br, ok := g.audit.(batchRecorder); ok {
			err = br.recordBatch(evs)
		} else {
			for _, ev := range evs {
				if e := g.audit.Record(ev); e != nil && err == nil {
					err = e
				}
			}
		}
		if err != nil {
			g.log.Warn("audit record failed", "err", err)
		}
	}
	for _, ev := range evs {
		if g.log.Enabled(ctx, slog.LevelInfo) {
			g.log.LogAttrs(ctx, slog.LevelInfo, "ztna "+ev.Kind,
				slog.String("subject", ev.Subject), slog.String("device", ev.Device),
				slog.String("resource", ev.Resource), slog.String("effect", ev.Effect),
				slog.String("rule", ev.Rule), slog.String("reason", ev.Reason),
				slog.Uint64("bytes_in", ev.BytesIn), slog.Uint64("bytes_out", ev.BytesOut))
		}
	}
}

// observe feeds ev to analytics and appends the alerts it raised to
// alerts, as events.
func (g *Gateway) observe(ev *Event, alerts []*Event) []*Event {
	aev := analytics.Event{
		Time: ev.Time, Subject: ev.Subject, Device: ev.Device,
		Country: ev.Country, ASN: ev.ASN, Resource: ev.Resource, Rule: ev.Rule,
		BytesIn: ev.BytesIn, BytesOut: ev.BytesOut,
		Duration: time.Duration(ev.Duration * float64(time.Second)),
		SourceIP: ev.outer,
	}
	if !aev.SourceIP.IsValid() {
		aev.SourceIP, _ = parseAddr(ev.Source)
	}
	if ev.Kind == EventFlow {
		aev.Kind, aev.Effect = analytics.KindFlow, analytics.EffectAllow
	} else {
		aev.Kind, aev.Effect = analytics.KindDecision, analytics.Effect(ev.Effect)
	}
	as, err := g.analytics.Observe(aev)
	if err != nil {
		g.log.Debug("analytics rejected event", "err", err)
		return alerts
	}
	for i := range as {
		a := &as[i]
		g.log.Warn("analytics alert", "alert", fmt.Sprint(*a))
		if a.Subject != "" {
			g.risky.add(a.Subject)
		}
		aev := &Event{Time: a.Time, Kind: EventAlert, Subject: a.Subject, Device: a.Device, Reason: a.Reason, Alert: a}
		if a.SourceIP.IsValid() {
			aev.Source = a.SourceIP.String()
		}
		alerts = append(alerts, aev)
	}
	return alerts
}

// riskySubjects are the subjects whose analytics raised an alert since
// their risk score last fell to zero: the gateway reports their scores to
// its console. Safe for concurrent use.
type riskySubjects struct {
	mu sync.Mutex
	m  map[string]struct{} // guarded by mu
}

func (r *riskySubjects) add(subject string) {
	r.mu.Lock()
	if r.m == nil {
		r.m = map[string]struct{}{}
	}
	r.m[subject] = struct{}{}
	r.mu.Unlock()
}

// Risks returns the current risk of every subject whose score on the
// gateway's analytics is above zero, highest first (nil without
// analytics). Only subjects that raised an alert can score above zero,
// and those are the ones the gateway tracks; a subject whose score has
// decayed to zero is forgotten until its next alert.
func (g *Gateway) Risks() []SubjectRisk {
	if g.analytics == nil {
		return nil
	}
	r := &g.risky
	r.mu.Lock()
	names := make([]string, 0, len(r.m))
	for s := range r.m {
		names = append(names, s)
	}
	r.mu.Unlock()
	out := make([]SubjectRisk, 0, len(names))
	var zero []string
	for _, s := range names {
		risk := g.analytics.Risk(s)
		if risk.Score <= 0 {
			zero = append(zero, s)
			continue
		}
		out = append(out, SubjectRisk{Subject: s, Risk: risk})
	}
	if len(zero) > 0 {
		r.mu.Lock()
		for _, s := range zero {
			// An alert raised since the read above keeps the subject.
			if g.analytics.Risk(s).Score <= 0 {
				delete(r.m, s)
			}
		}
		r.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b SubjectRisk) int {
		if a.Score != b.Score {
			return b.Score - a.Score
		}
		return strings.Compare(a.Subject, b.Subject)
	})
	return out
}

// SubjectRisk is one subject's current risk on a gateway.
type SubjectRisk struct {
	Subject string
	analytics.Risk
}

package ztna

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/gonaut/gonaut/analytics"
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
)

// Event is one entry of the audit trail: a decision, an HTTP request's
// decision, a revocation or a closed flow.
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
}

// An AuditSink receives every event. Record must be safe for concurrent use
// and should not block for long: it runs on the flow's goroutine.
type AuditSink interface {
	Record(ev *Event) error
}

// FileAudit is the default AuditSink: one JSON line per event, appended to
// a file and flushed every event.
type FileAudit struct {
	mu sync.Mutex
	// guarded by mu
	f *os.File
	w *bufio.Writer
}

var _ AuditSink = (*FileAudit)(nil)

// OpenFileAudit opens (creating or appending to) a JSON lines audit file.
func OpenFileAudit(path string) (*FileAudit, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("ztna: audit file: %w", err)
	}
	return &FileAudit{f: f, w: bufio.NewWriter(f)}, nil
}

// Record implements AuditSink.
func (a *FileAudit) Record(ev *Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return ErrClosed
	}
	a.w.Write(b)
	a.w.WriteByte('\n')
	return a.w.Flush()
}

// Close closes the file; it is safe to call twice.
func (a *FileAudit) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return nil
	}
	a.w.Flush()
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
	return &x
}

// emit sends ev to the audit sink, analytics, slog and metrics.
func (g *Gateway) emit(ev *Event) {
	ctx := context.Background()
	switch ev.Kind {
	case EventDecision, EventRequest:
		g.metrics.decisions.Add(ctx, 1, metric.WithAttributes(attribute.String("effect", ev.Effect), attribute.String("kind", ev.RKind)))
	case EventFlow:
		g.metrics.bytes.Add(ctx, int64(ev.BytesIn), metric.WithAttributes(attribute.String("direction", "in")))
		g.metrics.bytes.Add(ctx, int64(ev.BytesOut), metric.WithAttributes(attribute.String("direction", "out")))
		g.metrics.duration.Record(ctx, ev.Duration)
	case EventRevoke:
		g.metrics.revoked.Add(ctx, 1)
	}
	if g.audit != nil {
		if err := g.audit.Record(ev); err != nil {
			g.log.Warn("audit record failed", "err", err)
		}
	}
	if g.analytics != nil && ev.Subject != "" && ev.Kind != EventRevoke {
		aev := analytics.Event{
			Time: ev.Time, Subject: ev.Subject, Device: ev.Device,
			Country: ev.Country, ASN: ev.ASN, Resource: ev.Resource, Rule: ev.Rule,
			BytesIn: ev.BytesIn, BytesOut: ev.BytesOut,
			Duration: time.Duration(ev.Duration * float64(time.Second)),
		}
		aev.SourceIP, _ = parseAddr(ev.Source)
		if ev.Kind == EventFlow {
			aev.Kind, aev.Effect = analytics.KindFlow, analytics.EffectAllow
		} else {
			aev.Kind, aev.Effect = analytics.KindDecision, analytics.Effect(ev.Effect)
		}
		if alerts, err := g.analytics.Observe(aev); err != nil {
			g.log.Debug("analytics rejected event", "err", err)
		} else if len(alerts) > 0 {
			for _, a := range alerts {
				g.log.Warn("analytics alert", "alert", fmt.Sprint(a))
			}
			g.kick() // the risk score moved: re-decide live flows
		}
	}
	if g.log.Enabled(ctx, slog.LevelInfo) {
		g.log.LogAttrs(ctx, slog.LevelInfo, "ztna "+ev.Kind,
			slog.String("subject", ev.Subject), slog.String("device", ev.Device),
			slog.String("resource", ev.Resource), slog.String("effect", ev.Effect),
			slog.String("rule", ev.Rule), slog.String("reason", ev.Reason),
			slog.Uint64("bytes_in", ev.BytesIn), slog.Uint64("bytes_out", ev.BytesOut))
	}
}

package ztna

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

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

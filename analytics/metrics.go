package analytics

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the instrumentation scope of the engine's meter.
const ScopeName = "github.com/gonaut/gonaut/analytics"

// Instruments (all through the OTel metric API; the app picks the SDK and
// exporter):
//
//	gonaut.analytics.events           counter    events offered to Observe, by result
//	                                             (applied, invalid, out_of_order, duplicate)
//	gonaut.analytics.alerts           counter    alerts raised, by detector
//	gonaut.analytics.observe.duration histogram  seconds spent in Observe (scoring latency),
//	                                             sampled: one applied event in latencySampling
//	gonaut.analytics.subjects         gauge      subjects with a baseline
const (
	resultApplied = iota
	resultInvalid
	resultOutOfOrder
	resultDuplicate
	numResults
)

// latencySampling is how many events share one latency measurement:
// reading the clock twice costs about a tenth of Observe itself.
const latencySampling = 8

var resultNames = [numResults]string{"applied", "invalid", "out_of_order", "duplicate"}

type metrics struct {
	events   metric.Int64Counter
	alerts   metric.Int64Counter
	duration metric.Float64Histogram
	reg      metric.Registration

	// Pre-built attribute options, so that recording does not allocate.
	resultOpts   [numResults][]metric.AddOption
	detectorOpts [numDetectors][]metric.AddOption
}

func newMetrics(e *Engine) (*metrics, error) {
	mp := e.cfg.mp
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(ScopeName)
	m := &metrics{}
	var err error
	if m.events, err = meter.Int64Counter("gonaut.analytics.events",
		metric.WithDescription("Events offered to the analytics engine, by result."),
		metric.WithUnit("{event}")); err != nil {
		return nil, err
	}
	if m.alerts, err = meter.Int64Counter("gonaut.analytics.alerts",
		metric.WithDescription("Alerts raised, by detector."),
		metric.WithUnit("{alert}")); err != nil {
		return nil, err
	}
	if m.duration, err = meter.Float64Histogram("gonaut.analytics.observe.duration",
		metric.WithDescription("Time spent observing and scoring one event."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(1e-7, 2.5e-7, 5e-7, 1e-6, 2.5e-6, 5e-6, 1e-5, 5e-5, 1e-4, 1e-3)); err != nil {
		return nil, err
	}
	subjects, err := meter.Int64ObservableGauge("gonaut.analytics.subjects",
		metric.WithDescription("Subjects with a baseline."),
		metric.WithUnit("{subject}"))
	if err != nil {
		return nil, err
	}
	if m.reg, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(subjects, int64(e.Stats().Subjects))
		return nil
	}, subjects); err != nil {
		return nil, err
	}
	for i := range m.resultOpts {
		m.resultOpts[i] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("result", resultNames[i])))}
	}
	for d := 1; d < numDetectors; d++ {
		m.detectorOpts[d] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("detector", detectorNames[d])))}
	}
	return m, nil
}

func (m *metrics) event(result int, start time.Time) {
	ctx := context.Background()
	m.events.Add(ctx, 1, m.resultOpts[result]...)
	if result == resultApplied && !start.IsZero() {
		m.duration.Record(ctx, time.Since(start).Seconds())
	}
}

func (m *metrics) alert(d Detector) {
	m.alerts.Add(context.Background(), 1, m.detectorOpts[d]...)
}

func (m *metrics) close() error {
	if m.reg != nil {
		return m.reg.Unregister()
	}
	return nil
}

func slogAddr(k string, a netip.Addr) slog.Attr { return slog.String(k, a.String()) }
func slogErr(err error) slog.Attr               { return slog.String("err", err.Error()) }

package tunnel

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the tunnel's metrics and
// traces.
const ScopeName = "github.com/gonaut/gonaut/tunnel"

// telemetry holds the tunnel's OpenTelemetry instruments:
//
//	gonaut.tunnel.flows       counter of intercepted flows, by protocol and verdict
//	gonaut.tunnel.peers       gauge of configured peers
//	gonaut.tunnel.rx_bytes    counter of transport bytes received from all peers
//	gonaut.tunnel.tx_bytes    counter of transport bytes sent to all peers
//	gonaut.tunnel.handshakes  counter of completed handshakes
//
// WireGuard records only each peer's last handshake time, so handshakes are
// counted when a collection sees that time advance: one per peer between
// two collections. WireGuard rekeys a busy session every two minutes, so
// collections at least that frequent see every handshake.
type telemetry struct {
	tracer trace.Tracer
	flows  metric.Int64Counter
	reg    metric.Registration

	mu         sync.Mutex        // guards the fields below; held by the callback
	lastSeen   map[Key]time.Time // each peer's last handshake at the last collection
	handshakes int64
}

func newTelemetry(mp metric.MeterProvider, tp trace.TracerProvider, t *Tunnel) (*telemetry, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	m := mp.Meter(ScopeName)
	tel := &telemetry{tracer: tp.Tracer(ScopeName), lastSeen: make(map[Key]time.Time)}
	var err error
	if tel.flows, err = m.Int64Counter("gonaut.tunnel.flows", metric.WithDescription("Inbound flows offered to the flow handler, by protocol and verdict.")); err != nil {
		return nil, err
	}
	peers, err := m.Int64ObservableGauge("gonaut.tunnel.peers", metric.WithDescription("Configured WireGuard peers."))
	if err != nil {
		return nil, err
	}
	rx, err := m.Int64ObservableCounter("gonaut.tunnel.rx_bytes", metric.WithUnit("By"), metric.WithDescription("WireGuard transport bytes received from all peers."))
	if err != nil {
		return nil, err
	}
	tx, err := m.Int64ObservableCounter("gonaut.tunnel.tx_bytes", metric.WithUnit("By"), metric.WithDescription("WireGuard transport bytes sent to all peers."))
	if err != nil {
		return nil, err
	}
	hs, err := m.Int64ObservableCounter("gonaut.tunnel.handshakes", metric.WithDescription("Completed WireGuard handshakes with all peers, counted when a collection sees a peer's last handshake time advance."))
	if err != nil {
		return nil, err
	}
	tel.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if !t.up.Load() || t.checkOpen() != nil {
			return nil
		}
		ps := t.Peers()
		var rxb, txb uint64
		for _, p := range ps {
			rxb += p.RxBytes
			txb += p.TxBytes
		}
		o.ObserveInt64(peers, int64(len(ps)))
		o.ObserveInt64(rx, int64(rxb))
		o.ObserveInt64(tx, int64(txb))
		o.ObserveInt64(hs, tel.countHandshakes(ps))
		return nil
	}, peers, rx, tx, hs)
	if err != nil {
		return nil, err
	}
	return tel, nil
}

// startFlow opens the span that covers a flow's decision; the handler's
// own spans become its children.
func (tel *telemetry) startFlow(ctx context.Context, f *Flow) (context.Context, trace.Span) {
	return tel.tracer.Start(ctx, "tunnel.flow", trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		attribute.String("network.transport", string(f.Protocol)),
		attribute.String("source.address", f.Source.Addr().String()),
		attribute.Int("source.port", int(f.Source.Port())),
		attribute.String("destination.address", f.Destination.Addr().String()),
		attribute.Int("destination.port", int(f.Destination.Port())),
		attribute.String("gonaut.peer", f.Peer.String()),
	))
}

// decided counts a verdict and ends the flow's span.
func (tel *telemetry) decided(f *Flow, verdict string) {
	tel.flows.Add(context.Background(), 1, metric.WithAttributes(
		attribute.String("protocol", string(f.Protocol)),
		attribute.String("verdict", verdict)))
	if span := f.s.span; span != nil {
		span.SetAttributes(attribute.String("gonaut.verdict", verdict))
		span.End()
	}
}

// countHandshakes adds the handshakes that ps show since the last call
// and returns the total.
func (tel *telemetry) countHandshakes(ps []PeerStatus) int64 {
	tel.mu.Lock()
	defer tel.mu.Unlock()
	present := make(map[Key]bool, len(ps))
	for _, p := range ps {
		present[p.PublicKey] = true
		if p.LastHandshake.After(tel.lastSeen[p.PublicKey]) {
			tel.handshakes++
			tel.lastSeen[p.PublicKey] = p.LastHandshake
		}
	}
	for k := range tel.lastSeen {
		if !present[k] {
			delete(tel.lastSeen, k)
		}
	}
	return tel.handshakes
}

func (tel *telemetry) close() {
	if tel.reg != nil {
		tel.reg.Unregister()
	}
}

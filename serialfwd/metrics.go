package serialfwd

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the instrumentation scope of the Server's metrics, as
// usbip.ScopeName is of its server's.
const ScopeName = "github.com/gonaut/gonaut/serialfwd"

// metrics holds the Server's instruments:
//
//   - gonaut.serialfwd.sessions.active: sessions open now, by port, protocol
//     and role;
//   - gonaut.serialfwd.sessions.ended: sessions ended, by port and reason
//     (ok, denied, busy, kicked, device_gone, device_unavailable, idle,
//     slow_watcher, protocol, closed, error);
//   - gonaut.serialfwd.bytes: bytes forwarded, by port and direction.
type metrics struct {
	active metric.Int64UpDownCounter
	ended  metric.Int64Counter
	bytes  metric.Int64Counter
}

func newMetrics(mp metric.MeterProvider) *metrics {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(ScopeName)
	var ms metrics
	// Instrument creation only fails on invalid names; ours are constant.
	ms.active, _ = m.Int64UpDownCounter("gonaut.serialfwd.sessions.active", metric.WithDescription("Serial sessions open now."))
	ms.ended, _ = m.Int64Counter("gonaut.serialfwd.sessions.ended", metric.WithDescription("Serial sessions ended, by reason."))
	ms.bytes, _ = m.Int64Counter("gonaut.serialfwd.bytes", metric.WithUnit("By"), metric.WithDescription("Bytes forwarded between clients and serial devices."))
	return &ms
}

// sessionAttrs are a session's precomputed attribute sets.
type sessionAttrs struct {
	session              metric.MeasurementOption
	toDevice, fromDevice []metric.AddOption // passed as is: no slice per Add
}

func newSessionAttrs(info SessionInfo) sessionAttrs {
	port := attribute.String("port", info.Port)
	return sessionAttrs{
		session: metric.WithAttributeSet(attribute.NewSet(port,
			attribute.String("protocol", info.Protocol.String()), attribute.String("role", info.Role.String()))),
		toDevice:   []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(port, attribute.String("direction", ToDevice.String())))},
		fromDevice: []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(port, attribute.String("direction", FromDevice.String())))},
	}
}

// reasonName names why a session ended, for the ended counter.
func reasonName(err error) string {
	for _, r := range []struct {
		err  error
		name string
	}{
		{ErrDenied, "denied"}, {ErrPortBusy, "busy"}, {ErrKicked, "kicked"},
		{ErrDeviceGone, "device_gone"}, {ErrDeviceUnavailable, "device_unavailable"},
		{ErrIdle, "idle"}, {ErrSlowWatcher, "slow_watcher"}, {ErrProtocol, "protocol"},
		{ErrClosed, "closed"}, {context.Canceled, "closed"},
	} {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	if err == nil {
		return "ok"
	}
	return "error"
}

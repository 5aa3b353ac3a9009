package usbip

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// ScopeName is the instrumentation scope of the server's metrics.
const ScopeName = "github.com/gonaut/gonaut/usbip"

// telemetry holds the server's OpenTelemetry instruments:
//
//	gonaut.usbip.operations      DEVLIST and IMPORT requests, by op and result
//	gonaut.usbip.imports.active  devices currently imported
//	gonaut.usbip.urbs            completed URBs, by transfer type and result
//	gonaut.usbip.bytes           URB payload bytes, by direction
type telemetry struct {
	ops    metric.Int64Counter
	active metric.Int64UpDownCounter
	urbs   metric.Int64Counter
	bytes  metric.Int64Counter
}

var (
	attrIn  = metric.WithAttributes(attribute.String("direction", "in"))
	attrOut = metric.WithAttributes(attribute.String("direction", "out"))
)

func newTelemetry(mp metric.MeterProvider) (*telemetry, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(ScopeName)
	t := &telemetry{}
	var err error
	if t.ops, err = m.Int64Counter("gonaut.usbip.operations", metric.WithDescription("USB/IP DEVLIST and IMPORT requests, by op and result.")); err != nil {
		return nil, err
	}
	if t.active, err = m.Int64UpDownCounter("gonaut.usbip.imports.active", metric.WithDescription("Devices currently imported.")); err != nil {
		return nil, err
	}
	if t.urbs, err = m.Int64Counter("gonaut.usbip.urbs", metric.WithDescription("Completed URBs, by transfer type and result.")); err != nil {
		return nil, err
	}
	if t.bytes, err = m.Int64Counter("gonaut.usbip.bytes", metric.WithUnit("By"), metric.WithDescription("URB payload bytes moved, by direction.")); err != nil {
		return nil, err
	}
	return t, nil
}

// noopTelemetry is what a server uses when its meter provider fails.
func noopTelemetry() *telemetry {
	t, _ := newTelemetry(noop.NewMeterProvider())
	return t
}

func (t *telemetry) operation(op Op, result string) {
	t.ops.Add(context.Background(), 1, metric.WithAttributes(attribute.String("op", op.String()), attribute.String("result", result)))
}

func (t *telemetry) urb(typ TransferType, in bool, n int, status Errno) {
	result := "ok"
	switch {
	case status == StatusConnReset || status == StatusNoEntry:
		result = "unlinked"
	case status == StatusStall:
		result = "stall"
	case status != StatusOK:
		result = "error"
	}
	ctx := context.Background()
	t.urbs.Add(ctx, 1, metric.WithAttributes(attribute.String("type", typ.String()), attribute.String("result", result)))
	if n > 0 {
		if in {
			t.bytes.Add(ctx, int64(n), attrIn)
		} else {
			t.bytes.Add(ctx, int64(n), attrOut)
		}
	}
}

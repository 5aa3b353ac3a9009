package usbip_test

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gonaut/gonaut/usbip"
	"github.com/gonaut/gonaut/usbip/sim"
)

func TestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	srv := startServer(t, &usbip.ServerOptions{MeterProvider: mp}, sim.NewSerial("S"))
	list(t, srv.addr)
	d := importDev(t, srv.addr, "1-1")
	setConfig(t, d, 1)
	ctx := testCtx(t)
	if _, err := d.Transfer(ctx, sim.SerialOutEndpoint, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	sums := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != usbip.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			if s, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range s.DataPoints {
					sums[m.Name] += dp.Value
				}
			}
		}
	}
	// One list and one import; descriptors (4), SET_CONFIGURATION and the
	// write make 6 URBs; the write carried 100 bytes out.
	if sums["gonaut.usbip.operations"] != 2 || sums["gonaut.usbip.imports.active"] != 1 || sums["gonaut.usbip.urbs"] != 6 {
		t.Errorf("metrics %v", sums)
	}
	if sums["gonaut.usbip.bytes"] < 100 {
		t.Errorf("bytes %d", sums["gonaut.usbip.bytes"])
	}
}

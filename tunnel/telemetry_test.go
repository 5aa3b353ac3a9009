package tunnel_test

import (
	"context"
	"io"
	"net/netip"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gonaut/gonaut/tunnel"
)

// collect reads the tunnel's metrics from reader: each instrument's value
// summed over its data points, and the flow counter by verdict.
func collect(t *testing.T, reader *sdkmetric.ManualReader) (vals map[string]int64, verdicts map[string]int64) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	vals, verdicts = map[string]int64{}, map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != tunnel.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					vals[m.Name] += dp.Value
					if v, ok := dp.Attributes.Value("verdict"); ok {
						verdicts[v.AsString()] += dp.Value
					}
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					vals[m.Name] += dp.Value
				}
			}
		}
	}
	return vals, verdicts
}

// totals sums the peers' transport byte counters.
func totals(ps []tunnel.PeerStatus) (rx, tx int64) {
	for _, p := range ps {
		rx += int64(p.RxBytes)
		tx += int64(p.TxBytes)
	}
	return rx, tx
}

// TestMetrics moves traffic through a gateway tunnel that reports to an
// OpenTelemetry ManualReader and checks every instrument: peers, bytes in
// and out, handshakes and flow verdicts.
func TestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	gw := newNode(t, 1, &tunnel.Options{MeterProvider: mp, FlowHandler: func(ctx context.Context, f *tunnel.Flow) {
		if f.Destination.Port() != 7000 {
			f.Refuse()
			return
		}
		c, err := f.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(io.Discard, c)
	}})
	client := newNode(t, 2, nil)
	connect(t, client, gw, netip.MustParsePrefix("10.100.0.0/16"))

	vals, _ := collect(t, reader)
	if vals["gonaut.tunnel.peers"] != 1 || vals["gonaut.tunnel.handshakes"] != 0 || vals["gonaut.tunnel.rx_bytes"] != 0 {
		t.Errorf("before traffic: %v", vals)
	}

	// 1 MiB from the client through the gateway's flow handler, and one
	// refused flow.
	const n = 1 << 20
	c, err := client.Dial(testCtx(t, 20*time.Second), "tcp", "10.100.0.9:7000")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if c, err := client.Dial(testCtx(t, 20*time.Second), "tcp", "10.100.0.9:7001"); err == nil {
		c.Close()
		t.Error("dial to a refused port succeeded")
	}
	ctx := testCtx(t, 20*time.Second)
	for {
		// Wait until the gateway has received all the data (with
		// WireGuard's 32 bytes of overhead per packet).
		if rx, _ := totals(gw.Peers()); rx > n {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the gateway did not receive 1 MiB")
		}
		time.Sleep(10 * time.Millisecond)
	}

	rx0, tx0 := totals(gw.Peers())
	vals, verdicts := collect(t, reader)
	rx1, tx1 := totals(gw.Peers())
	if v := vals["gonaut.tunnel.rx_bytes"]; v < rx0 || v > rx1 || v <= n {
		t.Errorf("rx_bytes = %d, want between %d and %d (Peers) and above %d", v, rx0, rx1, n)
	}
	if v := vals["gonaut.tunnel.tx_bytes"]; v < tx0 || v > tx1 || v == 0 {
		t.Errorf("tx_bytes = %d, want between %d and %d (Peers) and above 0", v, tx0, tx1)
	}
	if v := vals["gonaut.tunnel.handshakes"]; v != 1 {
		t.Errorf("handshakes = %d, want 1", v)
	}
	if vals["gonaut.tunnel.peers"] != 1 {
		t.Errorf("peers = %d, want 1", vals["gonaut.tunnel.peers"])
	}
	if verdicts["accept"] != 1 || verdicts["refuse"] != 1 || vals["gonaut.tunnel.flows"] != 2 {
		t.Errorf("flows = %d by verdict %v, want one accepted and one refused", vals["gonaut.tunnel.flows"], verdicts)
	}

	// A configured peer that has never been in use counts as a peer, and
	// a second collection counts no handshake twice.
	if err := gw.SetPeer(context.Background(), tunnel.PeerConfig{
		PublicKey:  mustKey(t).PublicKey(),
		AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.99.0.50/32")},
	}); err != nil {
		t.Fatal(err)
	}
	vals, _ = collect(t, reader)
	if vals["gonaut.tunnel.peers"] != 2 || vals["gonaut.tunnel.handshakes"] != 1 {
		t.Errorf("after adding a peer: peers = %d, handshakes = %d; want 2 and 1", vals["gonaut.tunnel.peers"], vals["gonaut.tunnel.handshakes"])
	}

	// After Close the callback reports nothing, and does not fail.
	gw.Close()
	vals, _ = collect(t, reader)
	if _, ok := vals["gonaut.tunnel.peers"]; ok {
		t.Errorf("a closed tunnel still reports peers: %v", vals)
	}
}

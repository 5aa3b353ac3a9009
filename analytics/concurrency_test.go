package analytics_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gonaut/gonaut/analytics"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestConcurrentUse runs Observe for overlapping subjects alongside Risk,
// Snapshot, Restore and Stats; the race detector checks the locking.
func TestConcurrentUse(t *testing.T) {
	e, last := learned(t, nil)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				ev := base(last.Add(time.Duration(i)*time.Second+time.Duration(g)*time.Millisecond), fmt.Sprintf("res-%d", i%40))
				ev.Subject = fmt.Sprintf("user-%d", i%8) // shared between goroutines
				ev.Device = fmt.Sprintf("dev-%d", g)
				if i%3 == 0 {
					ev.Effect = analytics.EffectDeny
				}
				if _, err := e.Observe(ev); err != nil && err != analytics.ErrOutOfOrder {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			_ = e.Risk("alice")
			_ = e.RiskAt(fmt.Sprintf("user-%d", i%8), last)
			_ = e.Stats()
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 5; i++ {
			var buf bytes.Buffer
			if err := e.Snapshot(&buf); err != nil {
				t.Error(err)
				return
			}
			if err := e.Restore(&buf); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	if st := e.Stats(); st.Subjects == 0 {
		t.Fatal("no subjects after concurrent use")
	}
}

func TestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	e, last := learned(t, &analytics.Options{MeterProvider: mp})
	applied := int64(14 * 5 / 7 * 16 * 2) // learned(): 10 weekdays × 16 decisions, each with a flow
	for _, ev := range attack(last) {
		mustObserve(t, e, ev)
	}
	applied += 3
	if _, err := e.Observe(analytics.Event{}); err == nil {
		t.Fatal("empty event accepted")
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	var histCount uint64
	var subjects int64
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != analytics.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					for _, kv := range p.Attributes.ToSlice() {
						got[m.Name+"/"+kv.Value.AsString()] += p.Value
					}
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					histCount += p.Count
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					subjects = p.Value
				}
			}
		}
	}
	want := map[string]int64{
		"gonaut.analytics.events/applied":            applied,
		"gonaut.analytics.events/invalid":            1,
		"gonaut.analytics.alerts/impossible_travel":  1,
		"gonaut.analytics.alerts/new_device":         1,
		"gonaut.analytics.alerts/new_country_or_asn": 1,
		"gonaut.analytics.alerts/exfiltration":       1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	// Latency is sampled, one event in eight on average.
	if histCount == 0 || histCount > uint64(applied)/2 {
		t.Errorf("observe.duration count = %d of %d applied events, want about one in eight", histCount, applied)
	}
	if subjects != 1 {
		t.Errorf("subjects gauge = %d, want 1", subjects)
	}
}

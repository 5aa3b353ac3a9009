package analytics_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/gonaut/gonaut/analytics"
)

// t0 is a Monday at midnight UTC.
var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

var (
	berlin = [2]float64{52.52, 13.40}
	tokyo  = [2]float64{35.68, 139.69}
	paris  = [2]float64{48.86, 2.35}
	homeIP = netip.MustParseAddr("20.0.1.5")
)

// base is an allowed decision by alice from her laptop in Berlin.
func base(at time.Time, resource string) analytics.Event {
	return analytics.Event{
		Time: at, Subject: "alice", Device: "laptop", SourceIP: homeIP, Country: "DE", ASN: 3320,
		Lat: berlin[0], Lon: berlin[1], AccuracyKM: 20, HasLocation: true,
		Resource: resource, Kind: analytics.KindDecision, Effect: analytics.EffectAllow, Rule: "staff",
	}
}

// learned returns an engine in which alice has two weeks of office-hours
// history (09:00–17:00 UTC on weekdays, five resources, flows of about
// 100 KiB), and the time just after it.
func learned(tb testing.TB, opts *analytics.Options) (*analytics.Engine, time.Time) {
	tb.Helper()
	e, err := analytics.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close() })
	var last time.Time
	for day := 0; day < 14; day++ {
		d := t0.AddDate(0, 0, day)
		if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		for i := 0; i < 16; i++ {
			at := d.Add(9*time.Hour + time.Duration(i)*30*time.Minute + time.Duration(day)*time.Second)
			ev := base(at, fmt.Sprintf("res-%d", i%5))
			mustObserve(tb, e, ev)
			f := ev
			f.Kind, f.Rule, f.Time = analytics.KindFlow, "", at.Add(10*time.Second)
			f.BytesOut, f.Duration = 100<<10+uint64(i*997), 10*time.Second
			mustObserve(tb, e, f)
			last = f.Time
		}
	}
	return e, last
}

func mustObserve(tb testing.TB, e *analytics.Engine, ev analytics.Event) []analytics.Alert {
	tb.Helper()
	a, err := e.Observe(ev)
	if err != nil {
		tb.Fatalf("observe %+v: %v", ev, err)
	}
	return a
}

// fired returns the detector names of alerts, in order.
func fired(alerts []analytics.Alert) []string {
	var names []string
	for _, a := range alerts {
		names = append(names, a.Detector.String())
	}
	return names
}

func ipN(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{185, byte(i >> 16), byte(i >> 8), byte(i)})
}

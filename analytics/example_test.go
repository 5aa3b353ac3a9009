package analytics_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/gonaut/gonaut/analytics"
)

// exampleEngine returns an engine with a short learning period and
// alice's usual morning in Berlin already observed.
func exampleEngine() (*analytics.Engine, time.Time) {
	eng, err := analytics.New(&analytics.Options{
		Learning:        analytics.Learning{Events: 5, Period: time.Hour},
		CorporateEgress: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")},
	})
	if err != nil {
		panic(err)
	}
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i := 0; i < 8; i++ {
		_, err := eng.Observe(analytics.Event{
			Time: start.Add(time.Duration(i) * 15 * time.Minute), Subject: "alice", Device: "laptop",
			SourceIP: netip.MustParseAddr("20.0.1.5"), Country: "DE", ASN: 3320,
			Lat: 52.52, Lon: 13.40, AccuracyKM: 20, HasLocation: true,
			Resource: "git", Kind: analytics.KindDecision, Effect: analytics.EffectAllow, Rule: "staff",
		})
		if err != nil {
			panic(err)
		}
	}
	return eng, start.Add(2 * time.Hour)
}

func ExampleEngine_Observe() {
	eng, now := exampleEngine()
	defer eng.Close()

	// Fifteen minutes after her last access from Berlin, alice's session
	// is used from Tokyo on a device she has never used.
	alerts, err := eng.Observe(analytics.Event{
		Time: now, Subject: "alice", Device: "unknown-phone",
		SourceIP: netip.MustParseAddr("81.2.69.160"), Country: "JP", ASN: 4713,
		Lat: 35.68, Lon: 139.69, AccuracyKM: 50, HasLocation: true,
		Resource: "git", Kind: analytics.KindDecision, Effect: analytics.EffectAllow, Rule: "staff",
	})
	if err != nil {
		panic(err)
	}
	for _, a := range alerts {
		fmt.Printf("%s (%s, score %d)\n  %s\n", a.Detector, a.Severity, a.Score, a.Reason)
	}
	// Output:
	// impossible_travel (high, score 74)
	//   alice appeared 8917 km away (JP) 15m0s after the previous access: 35389 km/h, faster than 1000 km/h.
	// new_device (low, score 74)
	//   alice used device "unknown-phone", not among the 1 device(s) of their baseline. It has never been seen before with any subject.
	// new_country_or_asn (medium, score 74)
	//   alice connected from JP, a country not in their baseline.
}

func ExampleEngine_RiskAt() {
	eng, now := exampleEngine()
	defer eng.Close()
	_, _ = eng.Observe(analytics.Event{
		Time: now, Subject: "alice", Device: "laptop", Country: "FR", ASN: 3215,
		Resource: "git", Kind: analytics.KindDecision, Effect: analytics.EffectAllow,
	})
	// What a policy sees as risk.score and risk.signals, now and later.
	for _, after := range []time.Duration{0, 2 * time.Hour, 24 * time.Hour} {
		r := eng.RiskAt("alice", now.Add(after))
		fmt.Printf("after %v: score %d, signals %v\n", after, r.Score, r.Signals)
	}
	// Output:
	// after 0s: score 34, signals [new_country_or_asn]
	// after 2h0m0s: score 19, signals [new_country_or_asn]
	// after 24h0m0s: score 0, signals []
}

func ExampleDecoder() {
	in := `{"time":"2026-03-02T10:00:00Z","subject":"alice","source_ip":"20.0.1.5","country":"de","resource":"git","kind":"decision","effect":"allow"}
{"time":"2026-03-02T10:05:00Z","subject":"alice","kind":"flow","resource":"git","bytes_out":1048576,"duration_ms":2500}
{"time":"2026-03-02T10:06:00Z","kind":"decision","effect":"deny"}
`
	d := analytics.NewDecoder(strings.NewReader(in))
	for {
		var ev analytics.Event
		err := d.Decode(&ev)
		var de *analytics.DecodeError
		switch {
		case errors.As(err, &de):
			fmt.Println("skipped:", err)
			continue
		case err != nil:
			return // io.EOF
		}
		fmt.Println(ev.Kind, ev.Subject, ev.Country, ev.Resource, ev.BytesOut, ev.Duration)
	}
	// Output:
	// decision alice DE git 0 0s
	// flow alice  git 1048576 2.5s
	// skipped: analytics: line 3: analytics: invalid event: missing subject
}

func ExampleEngine_Snapshot() {
	eng, _ := exampleEngine()
	defer eng.Close()
	var buf bytes.Buffer
	if err := eng.Snapshot(&buf); err != nil {
		panic(err)
	}

	restarted, _ := analytics.New(nil)
	defer restarted.Close()
	if err := restarted.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", restarted.Stats())

	// A damaged snapshot is refused and changes nothing.
	damaged := buf.Bytes()[:buf.Len()/2]
	err := restarted.Restore(bytes.NewReader(damaged))
	fmt.Println(errors.Is(err, analytics.ErrSnapshot), restarted.Stats().Subjects)
	// Output:
	// {Subjects:1 Devices:1 Sources:0}
	// true 1
}

// Scoring decayed alert weights the way the engine does, for alerts kept
// elsewhere: one medium alert (25), one high (45), both, and a pile.
func ExampleRiskScore() {
	for _, w := range []float64{25, 45, 25 + 45, 1000} {
		fmt.Println(analytics.RiskScore(w))
	}
	// Output:
	// 34
	// 53
	// 69
	// 100
}

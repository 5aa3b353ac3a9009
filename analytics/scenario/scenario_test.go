package scenario_test

import (
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gonaut/gonaut/analytics"
	"github.com/gonaut/gonaut/analytics/scenario"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGenerateIsDeterministic(t *testing.T) {
	cfg := scenario.Config{Seed: 7, Users: 40, Days: 50, AttacksPerKind: 3}
	a, b := scenario.Generate(cfg), scenario.Generate(cfg)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different scenarios")
	}
	cfg.Seed = 8
	if c := scenario.Generate(cfg); reflect.DeepEqual(a.Events, c.Events) {
		t.Fatal("different seeds, same events")
	}
}

func TestGenerateShape(t *testing.T) {
	sc := scenario.Generate(scenario.Config{Seed: 3, Users: 60, Days: 50, AttacksPerKind: 4})
	if !slices.IsSortedFunc(sc.Events, func(a, b analytics.Event) int { return a.Time.Compare(b.Time) }) {
		t.Fatal("events not sorted by time")
	}
	kinds := map[analytics.Detector]int{}
	variants := map[string]int{}
	for _, in := range sc.Incidents {
		kinds[in.Kind]++
		variants[in.Variant]++
		if in.Variant == "scraper" {
			// One decision every two seconds for ten minutes.
			n := 0
			for _, ev := range sc.Events {
				if ev.Subject == in.Subject && ev.Kind == analytics.KindDecision &&
					!ev.Time.Before(in.Start) && ev.Time.Before(in.Start.Add(10*time.Minute)) {
					n++
				}
			}
			if n < 290 || n > 320 {
				t.Errorf("scraper %+v: %d decisions in its ten minutes", in, n)
			}
		}
		if !slices.Contains(in.Expect, in.Kind) || in.End.Before(in.Start) {
			t.Fatalf("malformed incident %+v", in)
		}
		if (in.Subject == "") != (in.Kind == analytics.PasswordSpray) || (in.Source != netip.Addr{}) != (in.Kind == analytics.PasswordSpray) {
			t.Fatalf("incident %+v: subject or source wrong for its kind", in)
		}
	}
	for _, d := range analytics.Detectors() {
		want := 4
		if d == analytics.RateSpike {
			want = 8 // bursts, and as many scrapers
		}
		if kinds[d] != want {
			t.Errorf("%s: %d incidents, want %d", d, kinds[d], want)
		}
	}
	if variants["burst"] != 4 || variants["scraper"] != 2 || variants["slow scraper"] != 2 {
		t.Errorf("variants %v", variants)
	}
	subjects := map[string]bool{}
	for _, ev := range sc.Events {
		subjects[ev.Subject] = true
	}
	if len(subjects) < 60 {
		t.Fatalf("%d subjects", len(subjects))
	}
	free := scenario.Generate(scenario.Config{Seed: 3, Users: 60, Days: 50, AttackFree: true})
	if len(free.Incidents) != 0 {
		t.Fatalf("attack-free scenario has %d incidents", len(free.Incidents))
	}
}

func TestEvaluate(t *testing.T) {
	src := netip.MustParseAddr("185.0.0.1")
	sc := scenario.Generate(scenario.Config{Seed: 1, Users: 30, Days: 50, AttackFree: true})
	in := scenario.Incident{Kind: analytics.PasswordSpray, Expect: []analytics.Detector{analytics.PasswordSpray},
		Source: src, Start: sc.Events[0].Time, End: sc.Events[0].Time.Add(3600e9)}
	in2 := scenario.Incident{Kind: analytics.NewDevice, Expect: []analytics.Detector{analytics.NewDevice},
		Subject: "u1", Start: sc.Events[0].Time, End: sc.Events[0].Time.Add(3600e9)}
	sc.Incidents = []scenario.Incident{in, in2}
	at := sc.Events[0].Time.Add(60e9)
	alerts := []analytics.Alert{
		{Time: at, SourceIP: src, Detector: analytics.PasswordSpray},             // true
		{Time: at, SourceIP: src, Detector: analytics.PasswordSpray},             // true, same incident
		{Time: at.Add(7200e9), SourceIP: src, Detector: analytics.PasswordSpray}, // too late
		{Time: at, Subject: "u2", Detector: analytics.NewDevice},                 // wrong subject
		{Time: at, Subject: "u1", Detector: analytics.UnusualHour},               // not expected
	}
	rep := scenario.Evaluate(sc, alerts)
	spray, dev, hour := rep.Row(analytics.PasswordSpray), rep.Row(analytics.NewDevice), rep.Row(analytics.UnusualHour)
	if spray.Incidents != 1 || spray.Detected != 1 || spray.Alerts != 3 || spray.Matched != 2 {
		t.Fatalf("spray row %+v", spray)
	}
	if dev.Recall() != 0 || dev.Precision() != 0 || hour.Precision() != 0 || hour.Recall() != 1 {
		t.Fatalf("rows %+v %+v", dev, hour)
	}
	if rep.FalseAlerts() != 3 {
		t.Fatalf("false alerts %d", rep.FalseAlerts())
	}
}

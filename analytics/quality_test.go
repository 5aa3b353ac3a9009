package analytics_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gonaut/gonaut/analytics"
	"github.com/gonaut/gonaut/analytics/scenario"
)

// runScenario replays a scenario through a fresh engine and returns every
// alert.
func runScenario(tb testing.TB, sc *scenario.Scenario) []analytics.Alert {
	tb.Helper()
	e, err := analytics.New(sc.Options())
	if err != nil {
		tb.Fatal(err)
	}
	defer e.Close()
	var alerts []analytics.Alert
	for _, ev := range sc.Events {
		a, err := e.Observe(ev)
		if err != nil {
			tb.Fatalf("scenario event %+v: %v", ev, err)
		}
		alerts = append(alerts, a...)
	}
	return alerts
}

// TestScenarioQuality measures every detector on labelled synthetic
// traffic (a fixed seed, so the result is deterministic) and holds it to
// the targets: recall at least 0.95 and precision at least 0.9 per
// detector, and no false alert on the same population without attacks.
// Run with -v for the table.
func TestScenarioQuality(t *testing.T) {
	if testing.Short() {
		t.Skip("replays half a million events")
	}
	cfg := scenario.Config{Seed: 1, Users: 220, Days: 50}
	sc := scenario.Generate(cfg)
	rep := scenario.Evaluate(sc, runScenario(t, sc))
	t.Logf("seed %d, %d users, %d days, %d events, %d incidents:\n%s", cfg.Seed, cfg.Users, cfg.Days, rep.Events, len(sc.Incidents), rep.Table())
	for _, row := range rep.Rows {
		if row.Incidents < 20 {
			t.Errorf("%s: only %d incidents", row.Detector, row.Incidents)
		}
		if row.Recall() < 0.95 {
			t.Errorf("%s: recall %.3f < 0.95", row.Detector, row.Recall())
		}
		if row.Precision() < 0.9 {
			t.Errorf("%s: precision %.3f < 0.9", row.Detector, row.Precision())
		}
	}

	cfg.AttackFree = true
	free := scenario.Generate(cfg)
	freeAlerts := runScenario(t, free)
	fp := scenario.Evaluate(free, freeAlerts)
	t.Logf("attack-free: %d events, %d false alerts (%.2f per 100,000 events)",
		fp.Events, fp.FalseAlerts(), 1e5*float64(fp.FalseAlerts())/float64(fp.Events))
	for _, a := range freeAlerts {
		t.Errorf("false alert on attack-free traffic: %s %s: %s", a.Time.Format("2006-01-02 15:04"), a.Detector, a.Reason)
	}
}

// TestScenarioDecoysMatter shows that the attack-free traffic is not
// trivially quiet: without the corporate egress option the VPN days look
// like impossible travel and new countries.
func TestScenarioDecoysMatter(t *testing.T) {
	if testing.Short() {
		t.Skip("replays a scenario")
	}
	free := scenario.Generate(scenario.Config{Seed: 1, Users: 60, Days: 50, AttackFree: true})
	free.CorporateEgress = nil
	rep := scenario.Evaluate(free, runScenario(t, free))
	if rep.Row(analytics.NewCountryOrASN).Alerts == 0 || rep.Row(analytics.ImpossibleTravel).Alerts == 0 {
		t.Fatalf("no false alerts without corporate egress:\n%s", rep.Table())
	}
	t.Logf("without CorporateEgress: %d false alerts in %d events", rep.FalseAlerts(), rep.Events)
}

// TestScenarioSlightlyDisordered replays a stream whose neighbouring events
// less than a minute apart are swapped at random, as events from several
// gateways arrive: within Options.MaxDisorder nothing is rejected and
// detection quality holds.
func TestScenarioSlightlyDisordered(t *testing.T) {
	if testing.Short() {
		t.Skip("replays a scenario")
	}
	sc := scenario.Generate(scenario.Config{Seed: 2, Users: 100, Days: 50, AttacksPerKind: 10})
	rng := rand.New(rand.NewPCG(2, 2))
	swaps := 0
	for i := 0; i+1 < len(sc.Events); i++ {
		if sc.Events[i+1].Time.Sub(sc.Events[i].Time) < time.Minute && rng.IntN(3) == 0 {
			sc.Events[i], sc.Events[i+1] = sc.Events[i+1], sc.Events[i]
			swaps++
			i++
		}
	}
	rep := scenario.Evaluate(sc, runScenario(t, sc)) // fails on any rejected event
	t.Logf("%d swaps:\n%s", swaps, rep.Table())
	for _, row := range rep.Rows {
		if row.Recall() < 0.95 || row.Precision() < 0.9 {
			t.Errorf("%s: recall %.3f, precision %.3f", row.Detector, row.Recall(), row.Precision())
		}
	}
}

// TestRateFloorsClearPeople is the data behind Options.Rate's floors: in
// attack-free traffic, busy mornings and bursts included, the busiest
// window of any person stays under half of each window's default floor.
// (Automation accounts go far above the floors; their own learned peaks
// keep them quiet.) Run with -v for the figures.
func TestRateFloorsClearPeople(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a scenario")
	}
	sc := scenario.Generate(scenario.Config{Seed: 1, Users: 220, Days: 50, AttackFree: true})
	times := map[string][]time.Time{}
	for _, ev := range sc.Events {
		if ev.Kind == analytics.KindDecision && !slices.Contains(sc.Automation, ev.Subject) {
			times[ev.Subject] = append(times[ev.Subject], ev.Time) // sorted: events are
		}
	}
	for _, w := range []struct {
		length time.Duration
		floor  int
	}{{time.Minute, 60}, {5 * time.Minute, 100}, {15 * time.Minute, 200}} {
		busiest, who := 0, ""
		for s, ts := range times {
			for i, j := 0, 0; i < len(ts); i++ {
				for ts[i].Sub(ts[j]) >= w.length {
					j++
				}
				if n := i - j + 1; n > busiest {
					busiest, who = n, s
				}
			}
		}
		t.Logf("%v: busiest person %s made %d decisions (floor %d)", w.length, who, busiest, w.floor)
		if 2*busiest > w.floor {
			t.Errorf("%v: %s made %d decisions, more than half the floor %d", w.length, who, busiest, w.floor)
		}
	}
}

// TestScenarioRateLookalikesMatter shows that the rate lookalikes are not
// trivially quiet: without the per-subject baseline (sigmas and learned
// peaks near zero) the nightly-job accounts raise rate_spike, and with
// floors a quarter of the defaults people's busy mornings do.
func TestScenarioRateLookalikesMatter(t *testing.T) {
	if testing.Short() {
		t.Skip("replays a scenario twice")
	}
	free := scenario.Generate(scenario.Config{Seed: 1, Users: 100, Days: 50, AttackFree: true})
	rateSubjects := func(opts *analytics.Options) (automation, people map[string]int) {
		automation, people = map[string]int{}, map[string]int{}
		e, err := analytics.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		for _, ev := range free.Events {
			alerts, err := e.Observe(ev)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range alerts {
				if a.Detector != analytics.RateSpike {
					continue
				}
				if slices.Contains(free.Automation, a.Subject) {
					automation[a.Subject]++
				} else {
					people[a.Subject]++
				}
			}
		}
		return automation, people
	}

	opts := free.Options()
	opts.Rate.Sigmas, opts.Rate.PeakFactor = 0.01, 0.01
	automation, _ := rateSubjects(opts)
	if len(automation) == 0 {
		t.Error("without a baseline, no automation account raised rate_spike")
	}
	t.Logf("without a baseline: rate_spike on automation accounts %v", automation)

	opts = free.Options()
	opts.Rate.Min, opts.Rate.Min5, opts.Rate.Min15 = 15, 25, 50
	_, people := rateSubjects(opts)
	if len(people) == 0 {
		t.Error("with a quarter of the floors, no person raised rate_spike")
	}
	t.Logf("with a quarter of the floors: rate_spike on %d people", len(people))
}

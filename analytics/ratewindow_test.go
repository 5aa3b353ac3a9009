package analytics_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/analytics"
)

// scrape is a script on alice's session from her laptop at home: one
// decision every interval from start for span, on her usual resources.
func scrape(start time.Time, every, span time.Duration) []analytics.Event {
	var evs []analytics.Event
	for t := start; t.Before(start.Add(span)); t = t.Add(every) {
		evs = append(evs, base(t, fmt.Sprintf("res-%d", len(evs)%5)))
	}
	return evs
}

// rateAlerts observes evs and returns the rate_spike alerts.
func rateAlerts(tb testing.TB, e *analytics.Engine, evs []analytics.Event) []analytics.Alert {
	tb.Helper()
	var out []analytics.Alert
	for _, ev := range evs {
		for _, a := range mustObserve(tb, e, ev) {
			if a.Detector == analytics.RateSpike {
				out = append(out, a)
			}
		}
	}
	return out
}

// A subject who makes a few dozen decisions a day makes one every two
// seconds for ten minutes: 30 a minute, never 60 within one minute, so only
// a longer window sees it.
func TestSustainedScraperFiresRateSpike(t *testing.T) {
	e, last := learned(t, nil)
	start := last.Truncate(24*time.Hour).AddDate(0, 0, 3).Add(11*time.Hour + 17*time.Second)
	alerts := rateAlerts(t, e, scrape(start, 2*time.Second, 10*time.Minute))
	if len(alerts) != 1 {
		t.Fatalf("%d rate_spike alerts, want 1: %+v", len(alerts), alerts)
	}
	a := alerts[0]
	if w := a.Evidence["window"]; w != "5m" && w != "15m" {
		t.Fatalf("evidence names window %v, want a longer one: %v", w, a.Evidence)
	}
	if !strings.Contains(a.Reason, "minutes") || a.Evidence["count"].(float64) < 100 {
		t.Fatalf("alert %q, evidence %v", a.Reason, a.Evidence)
	}
	if d := a.Time.Sub(start); d > 5*time.Minute {
		t.Fatalf("fired %s into the scrape, want within 5 minutes", d)
	}
	t.Logf("%s after %s: %s %v", a.Detector, a.Time.Sub(start), a.Reason, a.Evidence)

	// A slower one, one every four seconds for 30 minutes, stays under the
	// 5-minute floor and fires on the 15-minute window.
	e2, last := learned(t, nil)
	start = last.Truncate(24*time.Hour).AddDate(0, 0, 3).Add(11 * time.Hour)
	alerts = rateAlerts(t, e2, scrape(start, 4*time.Second, 30*time.Minute))
	if len(alerts) != 1 || alerts[0].Evidence["window"] != "15m" {
		t.Fatalf("slow scraper: %+v", alerts)
	}
}

// The same shape, from a subject that runs it every night, is learned: the
// 15-minute window's decaying peak remembers last night's job.
func TestNightlyJobIsLearned(t *testing.T) {
	e, err := analytics.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	job := func(night int) []analytics.Event {
		// 02:00 UTC give or take a few minutes; 9 to 11 minutes.
		start := t0.AddDate(0, 0, night).Add(2*time.Hour + time.Duration(night%7-3)*time.Minute)
		evs := scrape(start, 2*time.Second, time.Duration(9*60+night%3*60)*time.Second)
		for i := range evs {
			evs[i].Subject, evs[i].Device = "backup-bot", "runner-1"
		}
		// A check every half hour through the night, so that the 5- and
		// 15-minute windows see enough active buckets to learn.
		for k := 0; k < 12; k++ {
			ev := evs[0]
			ev.Time = start.Add(time.Duration(k+1) * 30 * time.Minute)
			evs = append(evs, ev)
		}
		return evs
	}
	for night := 0; night < 21; night++ {
		if a := rateAlerts(t, e, job(night)); len(a) != 0 {
			t.Fatalf("night %d: the routine job raised %+v", night, a[0])
		}
	}
	// The same job from alice, who never ran it, does fire.
	a, last := learned(t, nil)
	evs := job(0)
	start := last.Truncate(24*time.Hour).AddDate(0, 0, 3).Add(2 * time.Hour)
	for i := range evs[:len(evs)-12] {
		evs[i].Subject, evs[i].Device = "alice", "laptop"
		evs[i].Time = start.Add(time.Duration(i) * 2 * time.Second)
	}
	if got := rateAlerts(t, a, evs[:len(evs)-12]); len(got) != 1 {
		t.Fatalf("the job from a subject who never ran it: %d alerts", len(got))
	}
}

// Batches that straddle a window's buckets are counted whole: 100 decisions
// in the last and first 30 seconds of two minutes are a spike within one
// minute.
func TestRateBurstAcrossBucketBoundary(t *testing.T) {
	e, last := learned(t, nil)
	minute := last.Truncate(24*time.Hour).AddDate(0, 0, 3).Add(11 * time.Hour)
	var evs []analytics.Event
	for i := 0; i < 100; i++ {
		evs = append(evs, base(minute.Add(30*time.Second+time.Duration(i)*600*time.Millisecond), "res-1"))
	}
	alerts := rateAlerts(t, e, evs)
	if len(alerts) != 1 || alerts[0].Evidence["window"] != "1m" {
		t.Fatalf("alerts %+v", alerts)
	}
}

// A snapshot written by version 1 of the format (one rate window) restores:
// the one-minute rate baseline carries over, the longer windows start to
// learn, and the engine writes version 2 from then on.
func TestRestoreVersion1Snapshot(t *testing.T) {
	v1, err := os.ReadFile("testdata/snapshot-v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	e, err := analytics.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Restore(bytes.NewReader(v1)); err != nil {
		t.Fatal(err)
	}
	if st := e.Stats(); st.Subjects != 1 || st.Sources != 1 {
		t.Fatalf("stats %+v", st)
	}
	snap := snapshot(t, e)
	if v := snap[8]; v != 2 {
		t.Fatalf("rewritten as version %d", v)
	}
	again, err := analytics.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if err := again.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	// alice learned in version 1 and is still learned: her usual resources
	// and device raise nothing, a burst fires on the one-minute window.
	at := time.Date(2026, 3, 16, 11, 0, 0, 0, time.UTC)
	if a := mustObserve(t, again, base(at, "res-1")); len(a) != 0 {
		t.Fatalf("ordinary access after restoring v1: %v", fired(a))
	}
	var evs []analytics.Event
	for i := 0; i < 150; i++ {
		evs = append(evs, base(at.Add(time.Minute+time.Duration(i)*300*time.Millisecond), "res-1"))
	}
	if a := rateAlerts(t, again, evs); len(a) != 1 || a[0].Evidence["window"] != "1m" {
		t.Fatalf("burst after restoring v1: %+v", a)
	}
}

// The rate windows' state survives a snapshot: after a scrape that fired,
// the original and the restored engine both know it, and the same scrape
// the next day raises nothing in either.
func TestSnapshotKeepsRateWindows(t *testing.T) {
	a, last := learned(t, nil)
	day := last.Truncate(24*time.Hour).AddDate(0, 0, 3).Add(11 * time.Hour)
	if got := rateAlerts(t, a, scrape(day, 2*time.Second, 10*time.Minute)); len(got) != 1 {
		t.Fatalf("first scrape: %d alerts", len(got))
	}
	mustObserve(t, a, base(day.Add(time.Hour), "res-1")) // the scrape's buckets leave the windows
	b, err := analytics.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Restore(bytes.NewReader(snapshot(t, a))); err != nil {
		t.Fatal(err)
	}
	next := scrape(day.AddDate(0, 0, 1), 2*time.Second, 10*time.Minute)
	if ga, gb := rateAlerts(t, a, next), rateAlerts(t, b, next); len(ga) != 0 || len(gb) != 0 {
		t.Fatalf("the scrape again: original %+v, restored %+v", ga, gb)
	}
	if !bytes.Equal(snapshot(t, a), snapshot(t, b)) {
		t.Fatal("states diverged after the same events")
	}
}

package analytics_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/analytics"
)

// Each case starts from alice's learned baseline (Monday to Friday,
// 09:00–17:00 UTC, Berlin) and feeds events from the next Monday; want is
// every detector that fired over those events, sorted and deduplicated.
func TestDetectors(t *testing.T) {
	monday := t0.AddDate(0, 0, 14)
	at := func(h, m int) time.Time { return monday.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	corp := netip.MustParsePrefix("198.51.100.0/24")
	tests := []struct {
		name   string
		opts   *analytics.Options
		events func() []analytics.Event
		want   []string
	}{
		{"ordinary day", nil, func() []analytics.Event {
			var evs []analytics.Event
			for i := 0; i < 10; i++ {
				evs = append(evs, base(at(10, i*20), fmt.Sprintf("res-%d", i%5)))
			}
			return evs
		}, nil},
		{"impossible travel", nil, func() []analytics.Event {
			a := base(at(10, 0), "res-1")
			b := base(at(10, 30), "res-1")
			b.Lat, b.Lon = tokyo[0], tokyo[1]
			return []analytics.Event{a, b}
		}, []string{"impossible_travel"}},
		{"long trip in plausible time", nil, func() []analytics.Event {
			a := base(at(10, 0), "res-1")
			b := base(at(10, 0).Add(24*time.Hour+30*time.Minute), "res-1")
			b.Lat, b.Lon = tokyo[0], tokyo[1]
			return []analytics.Event{a, b}
		}, nil},
		{"travel from corporate egress is skipped", &analytics.Options{CorporateEgress: []netip.Prefix{corp}}, func() []analytics.Event {
			a := base(at(10, 0), "res-1")
			b := base(at(10, 30), "res-1")
			b.Lat, b.Lon, b.SourceIP, b.Country, b.ASN = tokyo[0], tokyo[1], netip.MustParseAddr("198.51.100.9"), "JP", 64512
			return []analytics.Event{a, b}
		}, nil},
		{"travel with a low-accuracy location is skipped", nil, func() []analytics.Event {
			a := base(at(10, 0), "res-1")
			b := base(at(10, 30), "res-1")
			b.Lat, b.Lon, b.AccuracyKM = paris[0], paris[1], 1000
			return []analytics.Event{a, b}
		}, nil},
		{"new device", nil, func() []analytics.Event {
			ev := base(at(10, 0), "res-1")
			ev.Device = "phone-x"
			again := ev
			again.Time = at(10, 5)
			return []analytics.Event{ev, again}
		}, []string{"new_device"}},
		{"new country", nil, func() []analytics.Event {
			ev := base(at(10, 0), "res-1")
			ev.Country, ev.ASN, ev.HasLocation = "FR", 3215, false
			return []analytics.Event{ev}
		}, []string{"new_country_or_asn"}},
		{"new ASN in the home country", nil, func() []analytics.Event {
			ev := base(at(10, 0), "res-1")
			ev.ASN = 6805
			return []analytics.Event{ev}
		}, []string{"new_country_or_asn"}},
		{"unusual hour", nil, func() []analytics.Event {
			return []analytics.Event{base(at(3, 0), "res-1"), base(at(3, 10), "res-2")}
		}, []string{"unusual_hour"}},
		{"working late is not unusual", nil, func() []analytics.Event {
			return []analytics.Event{base(at(18, 30), "res-1"), base(at(19, 45), "res-2")}
		}, nil},
		{"rate spike", nil, func() []analytics.Event {
			var evs []analytics.Event
			for i := 0; i < 150; i++ {
				evs = append(evs, base(at(11, 0).Add(time.Duration(i)*300*time.Millisecond), "res-1"))
			}
			return evs
		}, []string{"rate_spike"}},
		{"denial burst", nil, func() []analytics.Event {
			var evs []analytics.Event
			for i := 0; i < 12; i++ {
				ev := base(at(11, 0).Add(time.Duration(i)*5*time.Second), "admin")
				ev.Effect = analytics.EffectDeny
				evs = append(evs, ev)
			}
			return evs
		}, []string{"denial_burst"}},
		{"a few denials", nil, func() []analytics.Event {
			var evs []analytics.Event
			for i := 0; i < 5; i++ {
				ev := base(at(11, 0).Add(time.Duration(i)*time.Minute), "admin")
				ev.Effect = analytics.EffectDeny
				evs = append(evs, ev)
			}
			return evs
		}, nil},
		{"password spray", nil, func() []analytics.Event {
			var evs []analytics.Event
			for i := 0; i < 12; i++ {
				evs = append(evs, analytics.Event{
					Time: at(11, 0).Add(time.Duration(i) * 20 * time.Second), Subject: fmt.Sprintf("guess%d", i),
					SourceIP: netip.MustParseAddr("185.1.2.3"), Resource: "sso",
					Kind: analytics.KindDecision, Effect: analytics.EffectDeny,
				})
			}
			return evs
		}, []string{"password_spray"}},
		{"exfiltration", nil, func() []analytics.Event {
			f := base(at(11, 0), "res-1")
			f.Kind, f.BytesOut, f.Duration = analytics.KindFlow, 5<<30, time.Hour
			return []analytics.Event{f}
		}, []string{"exfiltration"}},
		{"a large but ordinary download", nil, func() []analytics.Event {
			f := base(at(11, 0), "res-1")
			f.Kind, f.BytesOut, f.Duration = analytics.KindFlow, 100<<20, time.Minute
			return []analytics.Event{f}
		}, nil},
		{"resource sweep", nil, func() []analytics.Event {
			var evs []analytics.Event
			for i := 0; i < 25; i++ {
				evs = append(evs, base(at(11, 0).Add(time.Duration(i)*10*time.Second), fmt.Sprintf("host-%d", i)))
			}
			return evs
		}, []string{"resource_sweep"}},
		{"dormant account", nil, func() []analytics.Event {
			return []analytics.Event{base(at(10, 0).AddDate(0, 0, 42), "res-1")}
		}, []string{"dormant_account"}},
		{"two weeks away is not dormant", nil, func() []analytics.Event {
			return []analytics.Event{base(at(10, 0).AddDate(0, 0, 14), "res-1")}
		}, nil},
		{"disabled detector", &analytics.Options{Detectors: []analytics.Detector{analytics.ImpossibleTravel}}, func() []analytics.Event {
			ev := base(at(10, 0), "res-1")
			ev.Device = "phone-x"
			return []analytics.Event{ev}
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := learned(t, tc.opts)
			var got []string
			for _, ev := range tc.events() {
				for _, a := range mustObserve(t, e, ev) {
					if a.Reason == "" || a.Severity == 0 || a.Score <= 0 || a.Score > 100 {
						t.Errorf("incomplete alert %+v", a)
					}
					got = append(got, a.Detector.String())
				}
			}
			slices.Sort(got)
			got = slices.Compact(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("fired %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLearningPeriod(t *testing.T) {
	e, err := analytics.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// Ten days of history but only 40 events: not learned yet.
	for i := 0; i < 40; i++ {
		mustObserve(t, e, base(t0.Add(time.Duration(i)*6*time.Hour+9*time.Hour), "res-1"))
	}
	ev := base(t0.AddDate(0, 0, 11).Add(10*time.Hour), "res-1")
	ev.Device, ev.Country, ev.ASN, ev.HasLocation = "phone-x", "FR", 3215, false
	if a := mustObserve(t, e, ev); len(a) != 0 {
		t.Fatalf("alerts while learning: %v", fired(a))
	}
	for i := 0; i < 10; i++ {
		mustObserve(t, e, base(t0.AddDate(0, 0, 11).Add(11*time.Hour+time.Duration(i)*time.Minute), "res-1"))
	}
	ev.Device, ev.Country, ev.ASN = "tablet-y", "ES", 3352
	ev.Time = t0.AddDate(0, 0, 11).Add(12 * time.Hour)
	if got := fired(mustObserve(t, e, ev)); !slices.Equal(got, []string{"new_device", "new_country_or_asn"}) {
		t.Fatalf("after learning fired %v", got)
	}
}

func TestCooldown(t *testing.T) {
	e, last := learned(t, nil)
	day := last.Truncate(24 * time.Hour).Add(3 * 24 * time.Hour)
	count := 0
	for i := 0; i < 6; i++ { // one login at 03:00 every 10 minutes for an hour
		count += len(mustObserve(t, e, base(day.Add(3*time.Hour+time.Duration(i)*10*time.Minute), "res-1")))
	}
	if count != 2 { // at 03:00 and again at 03:30, after the 30-minute cooldown
		t.Fatalf("%d unusual-hour alerts in an hour, want 2", count)
	}
}

func TestRisk(t *testing.T) {
	now := t0.AddDate(0, 0, 14).Add(10 * time.Hour)
	clock := now
	e, _ := learned(t, &analytics.Options{Now: func() time.Time { return clock }})
	if r := e.Risk("alice"); r.Score != 0 || r.Signals != nil {
		t.Fatalf("risk before alerts = %+v", r)
	}
	if r := e.Risk("nobody"); r.Score != 0 {
		t.Fatalf("risk of unknown subject = %+v", r)
	}
	ev := base(now, "res-1")
	ev.Country, ev.ASN, ev.HasLocation = "FR", 3215, false
	a := mustObserve(t, e, ev)
	if len(a) != 1 || a[0].Score != 34 { // one medium alert: 100·(1−e^(−25/60))
		t.Fatalf("alerts %+v, want one scoring 34", a)
	}
	if r := e.Risk("alice"); r.Score != 34 || !slices.Equal(r.Signals, []string{"new_country_or_asn"}) {
		t.Fatalf("risk = %+v", r)
	}
	half := e.RiskAt("alice", now.Add(2*time.Hour)) // one half-life: weight 12.5
	if half.Score != 19 {
		t.Fatalf("risk after one half-life = %+v, want 19", half)
	}
	clock = now.Add(48 * time.Hour)
	if r := e.Risk("alice"); r.Score != 0 || len(r.Signals) != 0 {
		t.Fatalf("risk two days later = %+v", r)
	}
	// Scores saturate below 100.
	for i := 0; i < 50; i++ {
		ev := base(now.Add(time.Duration(i+1)*time.Second), "res-1")
		ev.Country, ev.HasLocation = fmt.Sprintf("X%d", i), false
		mustObserve(t, e, ev)
	}
	if r := e.RiskAt("alice", now.Add(time.Minute)); r.Score < 99 || r.Score > 100 {
		t.Fatalf("risk after many alerts = %+v", r)
	}
}

func TestSourceRisk(t *testing.T) {
	at := t0.Add(10 * time.Hour)
	e, err := analytics.New(&analytics.Options{Now: func() time.Time { return at.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	src := netip.MustParseAddr("2001:db8::66")
	var alerts []analytics.Alert
	for i := 0; i < 10; i++ {
		a, err := e.Observe(analytics.Event{Time: at.Add(time.Duration(i) * time.Second), Subject: fmt.Sprintf("u%d", i),
			SourceIP: src, Kind: analytics.KindDecision, Effect: analytics.EffectDeny})
		if err != nil {
			t.Fatal(err)
		}
		alerts = append(alerts, a...)
	}
	if len(alerts) != 1 || alerts[0].Subject != "" || alerts[0].SourceIP != src || !strings.Contains(alerts[0].Reason, "10 distinct subjects") {
		t.Fatalf("alerts = %+v", alerts)
	}
	if r := e.SourceRisk(src); r.Score == 0 || !slices.Equal(r.Signals, []string{"password_spray"}) {
		t.Fatalf("source risk = %+v", r)
	}
	if st := e.Stats(); st.Subjects != 0 {
		t.Fatalf("denials for unknown subjects created %d subjects", st.Subjects)
	}
}

// A subject that had its 50 events on its first day and then fell silent
// never completed learning before the silence: its return is not an alert.
func TestDormantNeedsLearningBeforeSilence(t *testing.T) {
	e, err := analytics.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for i := 0; i < 60; i++ {
		mustObserve(t, e, base(t0.Add(9*time.Hour+time.Duration(i)*5*time.Minute), "res-1"))
	}
	if a := mustObserve(t, e, base(t0.AddDate(0, 0, 40).Add(10*time.Hour), "res-1")); len(a) != 0 {
		t.Fatalf("fired %v", fired(a))
	}
}

package analytics_test

import (
	"errors"
	"io"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/analytics"
)

func TestObserveRejectsInvalidEvents(t *testing.T) {
	ok := base(t0.Add(10*time.Hour), "res-1")
	tests := []struct {
		name   string
		modify func(*analytics.Event)
		want   string
	}{
		{"missing subject", func(e *analytics.Event) { e.Subject = "" }, "missing subject"},
		{"missing time", func(e *analytics.Event) { e.Time = time.Time{} }, "missing time"},
		{"time before 2000", func(e *analytics.Event) { e.Time = time.Unix(0, 0) }, "outside"},
		{"time after 2100", func(e *analytics.Event) { e.Time = time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC) }, "outside"},
		{"missing kind", func(e *analytics.Event) { e.Kind = "" }, "missing kind"},
		{"unknown kind", func(e *analytics.Event) { e.Kind = "login" }, "unknown kind"},
		{"decision without effect", func(e *analytics.Event) { e.Effect = "" }, "effect"},
		{"denied flow", func(e *analytics.Event) { e.Kind, e.Effect = analytics.KindFlow, analytics.EffectDeny }, "flow effect"},
		{"huge subject", func(e *analytics.Event) { e.Subject = strings.Repeat("x", 600) }, "subject longer"},
		{"negative duration", func(e *analytics.Event) { e.Duration = -time.Second }, "negative duration"},
		{"absurd byte count", func(e *analytics.Event) { e.BytesOut = math.MaxUint64 }, "byte count"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := analytics.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			ev := ok
			tc.modify(&ev)
			_, err = e.Observe(ev)
			if !errors.Is(err, analytics.ErrInvalidEvent) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidEvent mentioning %q", err, tc.want)
			}
			if st := e.Stats(); st.Subjects != 0 || st.Devices != 0 {
				t.Fatalf("invalid event changed state: %+v", st)
			}
		})
	}
}

func TestAbsurdCoordinatesAreDropped(t *testing.T) {
	e, last := learned(t, nil)
	at := last.Add(24 * time.Hour).Truncate(24 * time.Hour).Add(10 * time.Hour)
	mustObserve(t, e, base(at.Add(-time.Minute), "res-1")) // in Berlin
	for i, ll := range [][2]float64{{math.NaN(), 1}, {91, 0}, {0, 181}, {-1000, 5}, {0, 0}, {math.Inf(1), 3}} {
		ev := base(at.Add(time.Duration(i)*time.Minute), "res-1")
		ev.Lat, ev.Lon = ll[0], ll[1]
		if a := mustObserve(t, e, ev); len(a) != 0 {
			t.Fatalf("coordinates %v raised %v", ll, fired(a))
		}
	}
	// The last usable location is still Berlin: Tokyo ten minutes later is impossible.
	ev := base(at.Add(10*time.Minute), "res-1")
	ev.Lat, ev.Lon = tokyo[0], tokyo[1]
	if got := fired(mustObserve(t, e, ev)); len(got) != 1 || got[0] != "impossible_travel" {
		t.Fatalf("fired %v", got)
	}
}

func TestOutOfOrderAndDuplicates(t *testing.T) {
	e, last := learned(t, nil)
	ev := base(last.Add(time.Hour), "res-1")
	mustObserve(t, e, ev)
	if _, err := e.Observe(ev); !errors.Is(err, analytics.ErrDuplicate) {
		t.Fatalf("duplicate: err = %v", err)
	}
	late := base(last.Add(time.Hour-2*time.Minute), "res-2") // within MaxDisorder
	if _, err := e.Observe(late); err != nil {
		t.Fatalf("slightly late event: %v", err)
	}
	old := base(last.Add(-24*time.Hour), "res-3")
	if _, err := e.Observe(old); !errors.Is(err, analytics.ErrOutOfOrder) {
		t.Fatalf("old event: err = %v", err)
	}
}

func TestClosedEngine(t *testing.T) {
	e, err := analytics.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	mustObserve(t, e, base(t0, "res-1"))
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := e.Observe(base(t0.Add(time.Hour), "res-1")); !errors.Is(err, analytics.ErrClosed) {
		t.Fatalf("observe after close: %v", err)
	}
	if r := e.RiskAt("alice", t0); r.Score != 0 {
		t.Fatalf("risk after close: %+v", r)
	}
}

func TestBoundedTables(t *testing.T) {
	e, err := analytics.New(&analytics.Options{MaxSubjects: 128, MaxDevices: 64, MaxSources: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for i := 0; i < 5000; i++ {
		ev := base(t0.Add(time.Duration(i)*time.Second), "res-1")
		ev.Subject = "user-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + time.Duration(i).String()
		ev.Device = "dev-" + ev.Subject
		mustObserve(t, e, ev)
		deny := ev
		deny.Effect, deny.Time = analytics.EffectDeny, ev.Time.Add(time.Millisecond)
		deny.SourceIP = ipN(i)
		mustObserve(t, e, deny)
	}
	st := e.Stats()
	if st.Subjects > 128 || st.Devices > 64 || st.Sources > 64 || st.Subjects < 64 {
		t.Fatalf("stats %+v exceed limits (128, 64, 64)", st)
	}
}

func TestDecoder(t *testing.T) {
	in := strings.Join([]string{
		`{"time":"2026-03-02T10:00:00Z","subject":"alice","device":"laptop","source_ip":"20.0.1.5","country":"de","asn":3320,"lat":52.5,"lon":13.4,"resource":"git","kind":"decision","effect":"allow","rule":"staff"}`,
		``,
		`{"time":"2026-03-02T10:00:05Z","subject":"alice","kind":"flow","resource":"git","bytes_in":10,"bytes_out":2048,"duration_ms":5000}`,
		`not json`,
		`{"time":"2026-03-02T10:00:06Z","subject":"alice","kind":"decision","effect":"allow","lat":1}`,
		`{"subject":"alice","kind":"decision","effect":"allow"}`,
		`{"time":"yesterday","subject":"alice","kind":"decision","effect":"allow"}`,
		`{"time":"2026-03-02T10:00:07Z","subject":"alice","kind":"decision","effect":"allow","source_ip":"999.1.1.1"}`,
		`{"time":"2026-03-02T10:00:08Z","subject":"alice","kind":"decision","effect":"deny","unknown":[1,2]}`,
		strings.Repeat("x", analytics.MaxLineLen+10),
		`{"time":"2026-03-02T10:00:09Z","subject":"bob","kind":"flow"}`,
	}, "\n")
	d := analytics.NewDecoder(strings.NewReader(in))
	var good []analytics.Event
	var badLines []int
	for {
		var ev analytics.Event
		err := d.Decode(&ev)
		if err == io.EOF {
			break
		}
		var de *analytics.DecodeError
		if errors.As(err, &de) {
			if !errors.Is(err, analytics.ErrInvalidEvent) {
				t.Errorf("line %d: %v does not wrap ErrInvalidEvent", de.Line, err)
			}
			badLines = append(badLines, de.Line)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		good = append(good, ev)
	}
	if want := []int{4, 5, 6, 7, 8, 10}; !equalInts(badLines, want) {
		t.Fatalf("bad lines %v, want %v", badLines, want)
	}
	if len(good) != 4 {
		t.Fatalf("decoded %d events, want 4", len(good))
	}
	g := good[0]
	if g.Country != "DE" || g.ASN != 3320 || !g.HasLocation || g.SourceIP.String() != "20.0.1.5" || g.Effect != analytics.EffectAllow {
		t.Fatalf("first event %+v", g)
	}
	if f := good[1]; f.Kind != analytics.KindFlow || f.Effect != analytics.EffectAllow || f.BytesOut != 2048 || f.Duration != 5*time.Second {
		t.Fatalf("flow %+v", f)
	}
	if good[3].Subject != "bob" {
		t.Fatalf("last event %+v", good[3])
	}
}

func TestEventJSONRoundTrip(t *testing.T) {
	ev := base(t0.Add(time.Hour+123*time.Millisecond), "git")
	ev.BytesIn, ev.BytesOut, ev.Duration = 1, 2, 3*time.Millisecond
	b, err := ev.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var back analytics.Event
	if err := analytics.ParseEvent(b, &back); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if !back.Time.Equal(ev.Time) {
		t.Fatalf("time %v != %v", back.Time, ev.Time)
	}
	back.Time = ev.Time
	if back != ev {
		t.Fatalf("round trip\n got %+v\nwant %+v", back, ev)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLoggerReceivesRejections(t *testing.T) {
	var buf strings.Builder
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, err := analytics.New(&analytics.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ev := base(t0, "res-1")
	ev.Kind = "bogus"
	if _, err := e.Observe(ev); err == nil {
		t.Fatal("bogus kind accepted")
	}
	if !strings.Contains(buf.String(), "event rejected") || !strings.Contains(buf.String(), "subject=alice") {
		t.Fatalf("log: %q", buf.String())
	}
}

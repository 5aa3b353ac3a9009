package analytics_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/gonaut/gonaut/analytics"
)

// FuzzDecoder feeds arbitrary streams to the JSON-lines decoder: it must
// return events or errors wrapping ErrInvalidEvent, never panic or loop,
// and every event it returns must survive Observe's checks and a JSON round
// trip.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte(`{"time":"2026-03-02T10:00:00Z","subject":"alice","device":"laptop","source_ip":"20.0.1.5","country":"de","asn":3320,"lat":52.5,"lon":13.4,"resource":"git","kind":"decision","effect":"allow","rule":"staff"}` + "\n"))
	f.Add([]byte(`{"time":"2026-03-02T10:00:05Z","subject":"alice","kind":"flow","bytes_out":2048,"duration_ms":5000}` + "\n\n{}\nnull\n[1]\n"))
	f.Add([]byte(`{"time":"1999-12-31T23:59:59Z","subject":"a","kind":"decision","effect":"deny","lat":-91,"lon":500}`))
	f.Add([]byte(`{"time":"2026-03-02T10:00:05+14:00","subject":"\u0000","kind":"flow","source_ip":"::ffff:1.2.3.4","accuracy_km":-1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := analytics.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		d := analytics.NewDecoder(bytes.NewReader(data))
		for i := 0; i <= len(data)+1; i++ {
			var ev analytics.Event
			err := d.Decode(&ev)
			if err == io.EOF {
				return
			}
			if err != nil {
				if !errors.Is(err, analytics.ErrInvalidEvent) {
					t.Fatalf("error %v does not wrap ErrInvalidEvent", err)
				}
				continue
			}
			b, err := ev.MarshalJSON()
			if err != nil {
				t.Fatalf("marshal %+v: %v", ev, err)
			}
			var back analytics.Event
			if err := analytics.ParseEvent(b, &back); err != nil {
				t.Fatalf("re-parse %s: %v", b, err)
			}
			if !back.Time.Equal(ev.Time) || back.Subject != ev.Subject || back.Kind != ev.Kind || back.HasLocation != ev.HasLocation {
				t.Fatalf("round trip changed %+v into %+v", ev, back)
			}
			if _, err := e.Observe(ev); err != nil && !errors.Is(err, analytics.ErrOutOfOrder) && !errors.Is(err, analytics.ErrDuplicate) {
				t.Fatalf("observe decoded event: %v", err)
			}
		}
		t.Fatal("decoder did not reach EOF")
	})
}

// FuzzRestore feeds arbitrary bytes to Restore: it must fail with
// ErrSnapshot and leave the state alone, or succeed with a state that
// snapshots back to an equivalent stream and keeps working.
func FuzzRestore(f *testing.F) {
	// A small state keeps inputs short, so that the fuzzer mutates and
	// minimises them quickly; TestBadSnapshotKeepsState covers a large one.
	src, err := analytics.New(nil)
	if err != nil {
		f.Fatal(err)
	}
	defer src.Close()
	for i := 0; i < 3; i++ {
		ev := base(t0.Add(time.Duration(i)*time.Hour), "res-1")
		ev.Device = ""
		mustObserve(f, src, ev)
	}
	mustObserve(f, src, analytics.Event{Time: t0.Add(5 * time.Hour), Subject: "alice", SourceIP: homeIP, Device: "d",
		Kind: analytics.KindDecision, Effect: analytics.EffectDeny})
	good := snapshot(f, src)
	f.Add(good)
	f.Add(good[:len(good)/2])
	// A version-1 snapshot (one rate window), which Restore still reads.
	v1, err := os.ReadFile("testdata/snapshot-v1.bin")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v1)
	empty, _ := analytics.New(nil)
	f.Add(snapshot(f, empty))
	empty.Close()
	// Engines are reused across inputs (each input starts by restoring the
	// same small state) so that one execution costs microseconds.
	e, err := analytics.New(nil)
	if err != nil {
		f.Fatal(err)
	}
	defer e.Close()
	e2, err := analytics.New(nil)
	if err != nil {
		f.Fatal(err)
	}
	defer e2.Close()
	start, err := analytics.New(nil)
	if err != nil {
		f.Fatal(err)
	}
	mustObserve(f, start, base(t0, "res-1"))
	before := snapshot(f, start)
	start.Close()
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := e.Restore(bytes.NewReader(before)); err != nil {
			t.Fatal(err)
		}
		if err := e.Restore(bytes.NewReader(data)); err != nil {
			if !errors.Is(err, analytics.ErrSnapshot) {
				t.Fatalf("error %v does not wrap ErrSnapshot", err)
			}
			if !bytes.Equal(snapshot(t, e), before) {
				t.Fatal("failed restore changed state")
			}
			return
		}
		again := snapshot(t, e)
		if err := e2.Restore(bytes.NewReader(again)); err != nil {
			t.Fatalf("re-restore: %v", err)
		}
		if !bytes.Equal(snapshot(t, e2), again) {
			t.Fatal("snapshot not stable")
		}
		_, _ = e.Observe(base(t0.AddDate(1, 0, 0), "res-1"))
		_ = e.RiskAt("alice", t0.Add(time.Hour))
	})
}

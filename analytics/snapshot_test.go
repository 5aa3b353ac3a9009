package analytics_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/analytics"
)

func snapshot(tb testing.TB, e *analytics.Engine) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := e.Snapshot(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// attack is a sequence that fires several detectors on alice after her
// learned baseline.
func attack(last time.Time) []analytics.Event {
	at := last.Truncate(24*time.Hour).AddDate(0, 0, 3).Add(10 * time.Hour)
	a := base(at, "res-1")
	b := base(at.Add(20*time.Minute), "res-2")
	b.Lat, b.Lon, b.Country, b.ASN, b.Device = tokyo[0], tokyo[1], "JP", 4713, "phone-x"
	f := base(at.Add(40*time.Minute), "res-2")
	f.Kind, f.Rule, f.BytesOut = analytics.KindFlow, "", 3<<30
	return []analytics.Event{a, b, f}
}

func TestSnapshotRoundTrip(t *testing.T) {
	a, last := learned(t, nil)
	mustObserve(t, a, analytics.Event{Time: last, Subject: "mallory", SourceIP: netip.MustParseAddr("2001:db8::1"),
		Kind: analytics.KindDecision, Effect: analytics.EffectDeny})
	snap := snapshot(t, a)

	b, err := analytics.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if again := snapshot(t, b); !bytes.Equal(again, snap) {
		t.Fatalf("snapshot of the restored engine differs (%d vs %d bytes)", len(again), len(snap))
	}
	if a.Stats() != b.Stats() {
		t.Fatalf("stats %+v vs %+v", a.Stats(), b.Stats())
	}
	// Both engines react to the same attack identically: nothing learned
	// was forgotten.
	var ga, gb []string
	for _, ev := range attack(last) {
		ga = append(ga, fired(mustObserve(t, a, ev))...)
		gb = append(gb, fired(mustObserve(t, b, ev))...)
	}
	want := []string{"impossible_travel", "new_device", "new_country_or_asn", "exfiltration"}
	if !slices.Equal(ga, want) || !slices.Equal(gb, want) {
		t.Fatalf("original fired %v, restored fired %v, want %v", ga, gb, want)
	}
	at := attack(last)[2].Time
	if ra, rb := a.RiskAt("alice", at), b.RiskAt("alice", at); ra.Score != rb.Score || ra.Score < 80 {
		t.Fatalf("risk %+v vs %+v", ra, rb)
	}
}

func TestBadSnapshotKeepsState(t *testing.T) {
	src, _ := learned(t, nil)
	good := snapshot(t, src)

	e, last := learned(t, nil)
	mustObserve(t, e, base(last.Add(time.Hour), "extra")) // differs from src
	before := snapshot(t, e)

	check := func(t *testing.T, data []byte, want error) {
		t.Helper()
		err := e.Restore(bytes.NewReader(data))
		if !errors.Is(err, want) {
			t.Fatalf("restore: err = %v, want %v", err, want)
		}
		if after := snapshot(t, e); !bytes.Equal(after, before) {
			t.Fatal("a failed restore changed the engine's state")
		}
	}
	t.Run("empty", func(t *testing.T) { check(t, nil, analytics.ErrSnapshot) })
	t.Run("not a snapshot", func(t *testing.T) { check(t, []byte("{\"hello\": 1}\n"), analytics.ErrSnapshot) })
	t.Run("version", func(t *testing.T) {
		bad := slices.Clone(good)
		binary.LittleEndian.PutUint16(bad[8:], 99)
		check(t, bad, analytics.ErrSnapshotVersion)
		binary.LittleEndian.PutUint16(bad[8:], 0)
		check(t, bad, analytics.ErrSnapshotVersion)
		binary.LittleEndian.PutUint16(bad[8:], 3) // from a newer build
		err := e.Restore(bytes.NewReader(bad))
		if !errors.Is(err, analytics.ErrSnapshotVersion) || !strings.Contains(err.Error(), "reads versions 1 to 2") {
			t.Fatalf("restore of version 3: %v", err)
		}
	})
	t.Run("every truncation", func(t *testing.T) {
		step := max(1, len(good)/300)
		for n := 0; n < len(good); n += step {
			check(t, good[:n], analytics.ErrSnapshot)
		}
		check(t, good[:len(good)-1], analytics.ErrSnapshot)
	})
	t.Run("bit flips", func(t *testing.T) {
		step := max(1, len(good)/300)
		for i := 0; i < len(good); i += step {
			bad := slices.Clone(good)
			bad[i] ^= 0x10
			check(t, bad, analytics.ErrSnapshot)
		}
	})
	// And a good snapshot does replace the state.
	if err := e.Restore(bytes.NewReader(good)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snapshot(t, e), good) {
		t.Fatal("restore of a good snapshot did not take")
	}
}

func TestSnapshotLimits(t *testing.T) {
	big, err := analytics.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	for i := 0; i < 300; i++ {
		mustObserve(t, big, base(t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("r%d", i)))
		ev := base(t0.Add(time.Duration(i)*time.Second), "r")
		ev.Subject = fmt.Sprintf("s%d", i)
		mustObserve(t, big, ev)
	}
	small, err := analytics.New(&analytics.Options{MaxSubjects: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if err := small.Restore(bytes.NewReader(snapshot(t, big))); !errors.Is(err, analytics.ErrSnapshot) {
		t.Fatalf("restoring 301 subjects into a 100-subject engine: %v", err)
	}
	if small.Stats().Subjects != 0 {
		t.Fatal("state changed")
	}
}

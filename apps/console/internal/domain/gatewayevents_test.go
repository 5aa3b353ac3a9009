package domain

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/gonaut/gonaut/ztna/controlplane"
)

// FuzzCheckEvent: whatever a gateway sends, an event checkEvent accepts
// has a gateway kind, an allowed effect and a bounded id, and its stamped
// entry names the sending gateway, an actor that is the subject or the
// gateway, and a time within the window of the console's clock.
func FuzzCheckEvent(f *testing.F) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{
		`{"id":"a","kind":"decision","effect":"allow","subject":"u_1","time":"2026-12-02T12:00:00Z"}`,
		`{"id":"b","kind":"policy.save","subject":"root@example.com"}`,
		`{"id":"c","kind":"flow","time":"2020-01-01T00:00:00Z"}`,
		`{"id":"","kind":"alert"}`,
		`{"id":"d","kind":"decision","effect":"=1+1","time":"2099-01-01T00:00:00Z"}`,
		`{"id":"e","kind":"gateway","gateway":"g_other"}`,
	} {
		f.Add([]byte(s))
	}
	g := Gateway{ID: "g_me", Name: "edge"}
	f.Fuzz(func(t *testing.T, data []byte) {
		var e controlplane.Event
		if json.Unmarshal(data, &e) != nil {
			return
		}
		if checkEvent(&e) != nil {
			return
		}
		if !slices.Contains(controlplane.EventKinds, e.Kind) || e.ID == "" || len(e.ID) > maxEventID || (e.Effect != "" && e.Effect != "allow" && e.Effect != "deny") {
			t.Fatalf("accepted %+v", e)
		}
		a, live := stampEvent(g, &e, now, defaultClockSkew)
		if a.Gateway != g.ID || live.Gateway != g.ID || a.EventID != g.ID+":"+e.ID {
			t.Fatalf("entry %+v not stamped with %s", a, g.ID)
		}
		if a.Actor != e.Subject && (e.Subject != "" || a.Actor != "gateway:"+g.Name) {
			t.Fatalf("actor %q for subject %q", a.Actor, e.Subject)
		}
		if d := a.Time.Sub(now); d < -defaultClockSkew || d > defaultClockSkew || !a.Time.Equal(live.Time) {
			t.Fatalf("time %v outside the window around %v", a.Time, now)
		}
		if live.ClockSkew != !a.Time.Equal(e.Time) {
			t.Fatalf("clock_skew %v for %v -> %v", live.ClockSkew, e.Time, a.Time)
		}
	})
}

package store_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

func TestAlertByID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		a := &store.Alert{Time: time.Unix(2000, 0), Severity: "medium", Kind: "new_device", Subject: "ada",
			Message: "a device never seen", Evidence: json.RawMessage(`{"device":"laptop-9"}`)}
		if err := s.CreateAlert(ctx, a); err != nil {
			t.Fatal(err)
		}
		got, err := s.Alert(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Kind != "new_device" || got.Subject != "ada" || got.State != "open" || !got.Time.Equal(a.Time) || string(got.Evidence) != `{"device":"laptop-9"}` {
			t.Errorf("alert = %+v", got)
		}
		if err := s.SetAlertState(ctx, a.ID, "acknowledged"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Alert(ctx, a.ID); got == nil || got.State != "acknowledged" {
			t.Errorf("after acknowledge: %+v", got)
		}
		if _, err := s.Alert(ctx, "a_missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing alert: %v", err)
		}
	})
}

func TestDecisionCounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		if cs, err := s.DecisionCounts(ctx, time.Unix(0, 0), 100); err != nil || len(cs) != 0 {
			t.Fatalf("empty log: %v, %v", cs, err)
		}
		base := time.Unix(10000, 0)
		var evs []store.AuditEvent
		for i := range 40 {
			effect := "allow"
			if i%4 == 0 {
				effect = "deny"
			}
			evs = append(evs, store.AuditEvent{Time: base.Add(time.Duration(i) * time.Minute), Actor: []string{"ada", "bob"}[i%2], Action: "decision", Effect: effect})
		}
		evs = append(evs, store.AuditEvent{Time: base.Add(50 * time.Minute), Actor: "ada", Action: "login"})
		if _, _, err := s.AppendAudit(ctx, evs); err != nil {
			t.Fatal(err)
		}
		count := func(since time.Time, limit int) map[string]int {
			cs, err := s.DecisionCounts(ctx, since, limit)
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]int{}
			for _, c := range cs {
				m[c.Actor+" "+c.Effect] = c.Count
			}
			return m
		}
		// Minutes 30..39: ada at 30, 32 (deny), 34, 36 (deny), 38; bob at 31..39 odd.
		if m := count(base.Add(30*time.Minute), 1000); m["ada allow"] != 3 || m["ada deny"] != 2 || m["bob allow"] != 5 || len(m) != 3 {
			t.Errorf("last ten minutes: %v", m)
		}
		if m := count(base, 1000); m["ada deny"] != 10 || m["ada allow"] != 10 || m["bob allow"] != 20 {
			t.Errorf("everything: %v", m)
		}
		// The limit keeps the newest entries: the login and decisions 35..39.
		if m := count(base, 6); m["ada allow"]+m["ada deny"]+m["bob allow"] != 5 {
			t.Errorf("limit 6: %v", m)
		}
		if m := count(base.Add(time.Hour), 1000); len(m) != 0 {
			t.Errorf("after the last entry: %v", m)
		}
	})
}

// TestAlertStateTransitions: SetAlertState moves alerts only along
// AlertNext, on each backend; a refused move is ErrConflict and leaves
// the state as it was.
func TestAlertStateTransitions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		ctx := t.Context()
		for from, next := range store.AlertNext {
			for _, to := range []string{"open", "acknowledged", "resolved"} {
				a := &store.Alert{Time: time.Unix(2000, 0), Severity: "low", Kind: "new_device", Subject: "ada"}
				if err := s.CreateAlert(ctx, a); err != nil {
					t.Fatal(err)
				}
				if from != "open" {
					if err := s.SetAlertState(ctx, a.ID, from); err != nil {
						t.Fatal(err)
					}
				}
				allowed := false
				for _, n := range next {
					allowed = allowed || n == to
				}
				err := s.SetAlertState(ctx, a.ID, to)
				got, _ := s.Alert(ctx, a.ID)
				switch {
				case allowed && (err != nil || got.State != to):
					t.Errorf("%s -> %s: %v, state %s", from, to, err, got.State)
				case !allowed && (!errors.Is(err, store.ErrConflict) || got.State != from):
					t.Errorf("%s -> %s: %v, state %s, want a conflict and no change", from, to, err, got.State)
				}
			}
		}
		if err := s.SetAlertState(ctx, "a_missing", "resolved"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing alert: %v", err)
		}
	})
}

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

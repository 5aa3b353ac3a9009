package store_test

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// TestSecondFactorUpdates checks the targeted updates of a user's second
// factor on both stores: enrolment, single-use steps and recovery codes
// under concurrency, and that a stale full-row update cannot undo them.
func TestSecondFactorUpdates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		u := &store.User{Email: "mfa@example.com", Role: store.RoleViewer, PasswordHash: "h"}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		stale, _ := s.User(ctx, u.ID)
		if err := s.ConfirmTOTP(ctx, u.ID, "sealed-1", 10, []string{"r1"}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("confirm without a pending secret: %v, want ErrConflict", err)
		}
		if err := s.SetTOTPPending(ctx, u.ID, "sealed-1"); err != nil {
			t.Fatal(err)
		}
		if p, _ := s.TOTPPending(ctx, u.ID); p != "sealed-1" {
			t.Errorf("pending = %q", p)
		}
		if err := s.ConfirmTOTP(ctx, u.ID, "sealed-1", 100, []string{"r1", "r2"}); err != nil {
			t.Fatal(err)
		}
		got, _ := s.User(ctx, u.ID)
		if !got.TOTPEnabled || got.TOTPSecret != "sealed-1" || !slices.Equal(got.Recovery, []string{"r1", "r2"}) {
			t.Fatalf("after confirm: %+v", got)
		}
		if p, _ := s.TOTPPending(ctx, u.ID); p != "" {
			t.Errorf("pending after confirm = %q", p)
		}
		// The confirming code's step is used up.
		if ok, _ := s.UseTOTPStep(ctx, u.ID, 100); ok {
			t.Error("the step that confirmed the enrolment was accepted again")
		}

		// Concurrent uses of one step or one recovery code: one wins.
		const n = 8
		var steps, codes atomic.Int32
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				if ok, err := s.UseTOTPStep(ctx, u.ID, 101); err != nil {
					t.Error(err)
				} else if ok {
					steps.Add(1)
				}
				if ok, err := s.UseRecoveryCode(ctx, u.ID, "r1"); err != nil {
					t.Error(err)
				} else if ok {
					codes.Add(1)
				}
			})
		}
		wg.Wait()
		if steps.Load() != 1 || codes.Load() != 1 {
			t.Errorf("%d uses of one step and %d of one recovery code succeeded, want 1 each", steps.Load(), codes.Load())
		}
		if ok, _ := s.UseTOTPStep(ctx, u.ID, 99); ok {
			t.Error("an earlier step was accepted after a later one")
		}

		// A full-row update from a copy read before enrolment changes
		// no second-factor field.
		stale.Name = "renamed"
		if err := s.UpdateUser(ctx, stale); err != nil {
			t.Fatal(err)
		}
		got, _ = s.User(ctx, u.ID)
		if got.Name != "renamed" || !got.TOTPEnabled || got.TOTPSecret != "sealed-1" || !slices.Equal(got.Recovery, []string{"r2"}) {
			t.Errorf("stale update touched the second factor: %+v", got)
		}

		if ok, _ := s.ReplaceTOTPSecret(ctx, u.ID, "other", "sealed-2"); ok {
			t.Error("replaced a secret that was not the expected one")
		}
		if ok, _ := s.ReplaceTOTPSecret(ctx, u.ID, "sealed-1", "sealed-2"); !ok {
			t.Error("replace refused")
		}
		if err := s.DisableTOTP(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		got, _ = s.User(ctx, u.ID)
		if got.TOTPEnabled || got.TOTPSecret != "" || len(got.Recovery) != 0 {
			t.Errorf("after disable: %+v", got)
		}

		if err := s.SetPasswordHash(ctx, u.ID, "h2"); err != nil {
			t.Fatal(err)
		}
		if got, _ = s.User(ctx, u.ID); got.PasswordHash != "h2" {
			t.Errorf("password hash = %q", got.PasswordHash)
		}
		for _, id := range []string{"s1", "s2", "s3"} {
			if err := s.CreateSession(ctx, &store.Session{ID: id, UserID: u.ID, CSRFHash: "c"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.DeleteOtherSessions(ctx, u.ID, "s2"); err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string]bool{"s1": false, "s2": true, "s3": false} {
			if _, err := s.Session(ctx, id); (err == nil) != want {
				t.Errorf("session %s kept = %v, want %v", id, err == nil, want)
			}
		}
	})
}

package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

func TestLoginFailures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		now := time.Unix(1800000000, 0).UTC()
		if f, err := s.LoginFailures(ctx, "u_a", "192.0.2.1"); err != nil || f.Failures != 0 {
			t.Fatalf("no failures yet: %+v, %v", f, err)
		}
		for i := 1; i <= 3; i++ {
			f, err := s.RecordLoginFailure(ctx, "u_a", "192.0.2.1", now, time.Hour)
			if err != nil || f.Failures != i {
				t.Fatalf("failure %d: %+v, %v", i, f, err)
			}
		}
		// Runs are per source and per account.
		s.RecordLoginFailure(ctx, "u_a", "198.51.100.7", now, time.Hour)
		s.RecordLoginFailure(ctx, "u_b", "192.0.2.1", now, time.Hour)
		if f, _ := s.LoginFailures(ctx, "u_a", "192.0.2.1"); f.Failures != 3 || !f.Last.Equal(now) {
			t.Errorf("run of u_a from 192.0.2.1 = %+v", f)
		}
		if f, _ := s.LoginFailures(ctx, "u_a", "198.51.100.7"); f.Failures != 1 {
			t.Errorf("run of u_a from 198.51.100.7 = %+v", f)
		}
		// A run that ended longer than forget ago starts again.
		later := now.Add(2 * time.Hour)
		if f, _ := s.RecordLoginFailure(ctx, "u_a", "192.0.2.1", later, time.Hour); f.Failures != 1 {
			t.Errorf("run after forget = %+v", f)
		}
		// ... and other stale runs were deleted on the way.
		if f, _ := s.LoginFailures(ctx, "u_b", "192.0.2.1"); f.Failures != 0 {
			t.Errorf("stale run of u_b kept: %+v", f)
		}
		s.RecordLoginFailure(ctx, "u_a", "198.51.100.7", later, time.Hour)
		if err := s.ClearLoginFailures(ctx, "u_a", "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		if f, _ := s.LoginFailures(ctx, "u_a", "192.0.2.1"); f.Failures != 0 {
			t.Errorf("cleared run = %+v", f)
		}
		if f, _ := s.LoginFailures(ctx, "u_a", "198.51.100.7"); f.Failures != 1 {
			t.Errorf("clearing one source cleared another: %+v", f)
		}
		s.ClearLoginFailures(ctx, "u_a", "")
		if f, _ := s.LoginFailures(ctx, "u_a", "198.51.100.7"); f.Failures != 0 {
			t.Errorf("clearing every source left %+v", f)
		}
		// Concurrent failures all count.
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				if _, err := s.RecordLoginFailure(ctx, "u_c", "203.0.113.9", later, time.Hour); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if f, _ := s.LoginFailures(ctx, "u_c", "203.0.113.9"); f.Failures != 16 {
			t.Errorf("16 concurrent failures counted as %d", f.Failures)
		}
	})
}

func TestUpdateUserCompareAndSwap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		u := &store.User{Email: "cas@example.com", Role: store.RoleAdmin, PasswordHash: "h", Recovery: []string{"r1", "r2"}}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		a, _ := s.User(ctx, u.ID)
		b, _ := s.User(ctx, u.ID)
		a.Disabled = true
		if err := s.UpdateUser(ctx, a); err != nil {
			t.Fatal(err)
		}
		// b was read before a's change: writing it back would re-enable
		// the account.
		b.Name = "stale"
		if err := s.UpdateUser(ctx, b); !errors.Is(err, store.ErrStale) {
			t.Fatalf("stale update: %v, want ErrStale", err)
		}
		if got, _ := s.User(ctx, u.ID); !got.Disabled || got.Name == "stale" || got.Version != 1 {
			t.Errorf("after a refused stale update: %+v", got)
		}
		if err := s.UpdateUser(ctx, &store.User{ID: "u_missing", Role: store.RoleViewer}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing user: %v", err)
		}
		// Using a recovery code changes the row too: a read from before
		// it cannot put the code back.
		c, _ := s.User(ctx, u.ID)
		if ok, err := s.UseRecoveryCode(ctx, u.ID, "r1"); !ok || err != nil {
			t.Fatalf("recovery code: %v, %v", ok, err)
		}
		// UpdateUser does not write the second factor, so the write-back
		// of c succeeds without restoring r1.
		if err := s.UpdateUser(ctx, c); err != nil {
			t.Errorf("update from before a recovery code's use: %v", err)
		}
		if ok, _ := s.UseRecoveryCode(ctx, u.ID, "r1"); ok {
			t.Error("a recovery code worked twice")
		}
		if ok, _ := s.UseRecoveryCode(ctx, u.ID, ""); ok {
			t.Error("an empty recovery code worked")
		}
		if got, _ := s.User(ctx, u.ID); len(got.Recovery) != 1 || got.Recovery[0] != "r2" || !got.Disabled {
			t.Errorf("after using r1: %+v", got)
		}
	})
}

// TestUserRaces races what a login writes (failure runs, recovery
// codes) against an admin's read-modify-write disable and demotion: the
// admin's change holds every time, and of concurrent uses of one
// recovery code exactly one succeeds.
func TestUserRaces(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		for i := range 20 {
			codes := []string{"c0", "c1", "c2", "c3"}
			u := &store.User{Email: fmt.Sprintf("race%d@example.com", i), Role: store.RoleAdmin, PasswordHash: "h", TOTPEnabled: true, Recovery: codes}
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			uses := 0
			for range 4 {
				wg.Go(func() {
					s.RecordLoginFailure(ctx, u.ID, "192.0.2.1", time.Now(), time.Hour)
					ok, err := s.UseRecoveryCode(ctx, u.ID, "c1")
					if err != nil {
						t.Error(err)
					}
					if ok {
						mu.Lock()
						uses++
						mu.Unlock()
					}
					s.ClearLoginFailures(ctx, u.ID, "192.0.2.1")
				})
			}
			wg.Go(func() {
				// The admin retries on ErrStale, as the server does.
				for {
					v, err := s.User(ctx, u.ID)
					if err != nil {
						t.Error(err)
						return
					}
					v.Disabled, v.Role = true, store.RoleViewer
					if err := s.UpdateUser(ctx, v); !errors.Is(err, store.ErrStale) {
						if err != nil {
							t.Error(err)
						}
						return
					}
				}
			})
			wg.Wait()
			got, _ := s.User(ctx, u.ID)
			if !got.Disabled || got.Role != store.RoleViewer {
				t.Fatalf("round %d: the admin's change was lost: %+v", i, got)
			}
			if uses != 1 || len(got.Recovery) != 3 {
				t.Fatalf("round %d: recovery code used %d times, %d codes left", i, uses, len(got.Recovery))
			}
		}
	})
}

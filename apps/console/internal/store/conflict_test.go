package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// TestConflictNamesTheColumn creates a user and a gateway twice on each
// backend: the error is ErrConflict as a ConflictError naming the unique
// column, without the driver's words.
func TestConflictNamesTheColumn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		u := func() *store.User { return &store.User{Email: "ann@example.com", Name: "Ann", Role: store.RoleViewer} }
		if err := s.CreateUser(ctx, u()); err != nil {
			t.Fatal(err)
		}
		err := s.CreateUser(ctx, u())
		var c *store.ConflictError
		if !errors.Is(err, store.ErrConflict) || !errors.As(err, &c) || c.Table != "users" || c.Column != "email" {
			t.Fatalf("second user: %v (%#v), want a conflict on users.email", err, c)
		}
		if strings.Contains(err.Error(), "constraint") {
			t.Errorf("conflict carries driver text: %v", err)
		}
	})
}

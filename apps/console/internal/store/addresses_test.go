package store_test

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

func TestAllocateDeviceUniqueAndFull(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		pool := netip.MustParsePrefix("10.1.0.0/29")
		for i := range 5 {
			d := &store.Device{Owner: "u", PublicKey: fmt.Sprintf("k%d", i)}
			if err := s.AllocateDevice(ctx, d, pool, 0); err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("10.1.0.%d/32", i+2); d.Address != want {
				t.Fatalf("address %d = %s, want %s", i, d.Address, want)
			}
		}
		if err := s.AllocateDevice(ctx, &store.Device{Owner: "u", PublicKey: "k9"}, pool, 0); !errors.Is(err, store.ErrPoolFull) {
			t.Fatalf("full pool: %v", err)
		}
		if err := s.AllocateDevice(ctx, &store.Device{Owner: "u", PublicKey: "k9"}, netip.MustParsePrefix("10.2.0.0/24"), 5); !errors.Is(err, store.ErrQuota) {
			t.Fatalf("quota: %v", err)
		}
		// A second device at a taken pool address is refused by the index.
		if err := s.CreateDevice(ctx, &store.Device{Owner: "v", PublicKey: "kx", Network: pool.String(), Address: "10.1.0.2/32"}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate address: %v", err)
		}
	})
}

func TestMigrationMovesDuplicateAddresses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		for i, a := range []string{"100.64.0.2/32", "100.64.0.2/32", "100.64.0.3/32", "100.64.0.2/32"} {
			if err := s.CreateDevice(ctx, &store.Device{ID: fmt.Sprintf("d%d", i), Owner: "u", PublicKey: fmt.Sprintf("k%d", i), Address: a}); err != nil {
				t.Fatal(err)
			}
		}
		if err := store.RedoAddressMigration(s); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"d0": "100.64.0.2/32", "d1": "100.64.0.4/32", "d2": "100.64.0.3/32", "d3": "100.64.0.5/32"}
		for id, a := range want {
			d, err := s.Device(ctx, id)
			if err != nil || d.Address != a || d.Network != "100.64.0.0/10" {
				t.Errorf("%s = %+v, %v; want address %s", id, d, err, a)
			}
		}
	})
}

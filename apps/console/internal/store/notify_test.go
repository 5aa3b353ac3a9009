package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// TestNotifyAcrossProcesses opens one PostgreSQL schema twice, as two
// console replicas do, and checks that what one notifies (and a
// configuration change it commits) reaches the other's listener in order.
func TestNotifyAcrossProcesses(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	a, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !a.Shared() {
		t.Fatal("a PostgreSQL store is not Shared")
	}

	lctx, cancel := context.WithCancel(ctx)
	type note struct{ channel, payload string }
	got := make(chan note, 16)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- b.Listen(lctx, []string{store.ChannelLive, store.ChannelConfig}, func() { close(ready) }, func(c, p string) { got <- note{c, p} })
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Listen: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Listen not ready")
	}

	if err := a.Notify(ctx, store.ChannelLive, []string{"one", "two", strings.Repeat("x", store.MaxNotifyPayload)}); err != nil {
		t.Fatal(err)
	}
	if err := a.Notify(ctx, store.ChannelLive, []string{strings.Repeat("x", store.MaxNotifyPayload+1)}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("oversized payload: %v, want ErrInvalid", err)
	}
	if err := a.PutGroup(ctx, store.Group{Name: "eng"}); err != nil {
		t.Fatal(err)
	}
	want := []note{{store.ChannelLive, "one"}, {store.ChannelLive, "two"}, {store.ChannelLive, strings.Repeat("x", store.MaxNotifyPayload)}, {store.ChannelConfig, ""}}
	for i, w := range want {
		select {
		case n := <-got:
			if n != w {
				t.Errorf("notification %d = %.20q on %s, want %.20q on %s", i, n.payload, n.channel, w.payload, w.channel)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("notification %d (%.20q) did not arrive", i, w.payload)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Listen after cancel = %v", err)
	}
}

func TestNotifySQLite(t *testing.T) {
	s := storetest.SQLite(t)
	if s.Shared() {
		t.Error("a SQLite store claims to be Shared")
	}
	if err := s.Notify(ctx, store.ChannelLive, []string{"x"}); err != nil {
		t.Errorf("Notify = %v", err)
	}
	if err := s.Listen(ctx, []string{store.ChannelLive}, nil, func(string, string) {}); !errors.Is(err, store.ErrUnsupported) {
		t.Errorf("Listen = %v, want ErrUnsupported", err)
	}
	if n, err := s.Replicas(ctx); n != 1 || err != nil {
		t.Errorf("Replicas = %d, %v; want 1", n, err)
	}
}

// TestReplicasCountsListeners: on PostgreSQL, Replicas counts the
// stores of one installation that listen (two processes' and a
// tenant's), and no listener of another installation in the same
// database; a listener that stops is no longer counted.
func TestReplicasCountsListeners(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	other := storetest.Postgres(t) // another schema, another installation
	var stores []*store.DB
	for range 2 {
		s, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores = append(stores, s)
	}
	acme := storetest.Tenant(t, stores[0], "acme")
	count := func(s *store.DB) int {
		t.Helper()
		n, err := s.Replicas(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(stores[0]); n != 0 {
		t.Fatalf("Replicas before anyone listens = %d", n)
	}
	listen := func(s *store.DB) (stop func()) {
		t.Helper()
		lctx, cancel := context.WithCancel(ctx)
		ready, done := make(chan struct{}), make(chan error, 1)
		go func() {
			done <- s.Listen(lctx, []string{store.ChannelLive}, func() { close(ready) }, func(string, string) {})
		}()
		select {
		case <-ready:
		case err := <-done:
			t.Fatalf("Listen: %v", err)
		}
		return func() { cancel(); <-done }
	}
	stopOther := listen(other)
	defer stopOther()
	stop0 := listen(stores[0])
	stop1 := listen(stores[1])
	defer stop1()
	if n0, n1, na := count(stores[0]), count(stores[1]), count(acme); n0 != 2 || n1 != 2 || na != 2 {
		t.Errorf("Replicas with two listening = %d, %d, tenant %d; want 2", n0, n1, na)
	}
	if n := count(other); n != 1 {
		t.Errorf("Replicas of the other installation = %d, want 1", n)
	}
	stop0()
	// PostgreSQL ends the backend as the connection closes; give it a
	// moment to leave the view.
	deadline := time.Now().Add(10 * time.Second)
	for count(stores[1]) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("Replicas after one stopped = %d, want 1", count(stores[1]))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

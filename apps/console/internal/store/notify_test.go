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
}

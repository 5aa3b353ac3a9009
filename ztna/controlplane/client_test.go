package controlplane_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonaut/gonaut/ztna/controlplane"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"))
}

// fakeConsole is a minimal console for the client's own tests: the real
// console lives in apps/console (which imports this package) and is
// tested against this client there, over loopback, in
// apps/console/internal/server/cp_test.go.
type fakeConsole struct {
	mu      sync.Mutex
	down    bool
	seen    map[string]int
	batches int
}

func (f *fakeConsole) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	switch r.URL.Path {
	case "/cp/v1/register":
		var req controlplane.RegisterRequest
		json.NewDecoder(r.Body).Decode(&req)
		if req.Token != "good" {
			w.WriteHeader(401)
			json.NewEncoder(w).Encode(controlplane.Error{Status: 401, Code: "unauthorized", Message: "bad token"})
			return
		}
		json.NewEncoder(w).Encode(controlplane.Credential{GatewayID: "g_1", Secret: "s"})
	case "/cp/v1/events":
		if r.Header.Get("Authorization") != "Bearer g_1.s" {
			w.WriteHeader(401)
			return
		}
		var b controlplane.EventBatch
		json.NewDecoder(r.Body).Decode(&b)
		f.batches++
		ack := controlplane.EventAck{}
		for _, e := range b.Events {
			if f.seen[e.ID] > 0 {
				ack.Duplicates++
			} else {
				ack.Accepted++
			}
			f.seen[e.ID]++
		}
		json.NewEncoder(w).Encode(ack)
	case "/cp/v1/bundle":
		if r.URL.Query().Get("after") == "0" {
			json.NewEncoder(w).Encode(controlplane.Bundle{Version: 1})
			return
		}
		w.WriteHeader(204)
	default:
		http.NotFound(w, r)
	}
}

func TestSpoolSurvivesOutageAndRestart(t *testing.T) {
	fc := &fakeConsole{seen: map[string]int{}, down: true}
	hs := httptest.NewServer(fc)
	defer hs.Close()
	state := t.TempDir()
	opts := &controlplane.Options{StateDir: state, RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond}
	c, err := controlplane.New(hs.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fc.mu.Lock()
	fc.down = false
	fc.mu.Unlock()
	if _, err := c.Register(ctx, "bad", "gw"); !errors.Is(err, controlplane.ErrUnauthorized) {
		t.Fatalf("bad token: %v", err)
	}
	var ce *controlplane.Error
	if _, err := c.Register(ctx, "bad", "gw"); !errors.As(err, &ce) || ce.Code != "unauthorized" || ce.Message != "bad token" {
		t.Errorf("error body not decoded: %v", err)
	}
	if _, err := c.Register(ctx, "good", "gw"); err != nil {
		t.Fatal(err)
	}
	fc.mu.Lock()
	fc.down = true
	fc.mu.Unlock()
	for i := range 50 {
		if err := c.Emit(controlplane.Event{Kind: "decision", ID: "e" + string(rune('A'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := c.Pending(); n != 50 {
		t.Fatalf("pending = %d", n)
	}
	c.Close()
	c.Close() // safe twice
	if err := c.Emit(controlplane.Event{}); !errors.Is(err, controlplane.ErrClosed) {
		t.Errorf("emit after close: %v", err)
	}
	// A half-written batch from a crash in the middle of Emit is not a
	// promise and is discarded; a damaged batch is set aside.
	os.WriteFile(filepath.Join(state, "spool", "00000000000000000099.events.json.tmp"), []byte("{"), 0o600)
	os.WriteFile(filepath.Join(state, "spool", "00000000000000000098.events.json"), []byte("{garbage"), 0o600)

	c2, err := controlplane.New(hs.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	fc.mu.Lock()
	fc.down = false
	fc.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if n, _ := c2.Pending(); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("spool never drained")
		}
		time.Sleep(10 * time.Millisecond)
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if len(fc.seen) != 50 {
		t.Errorf("console saw %d distinct events, want 50", len(fc.seen))
	}
	if _, err := os.Stat(filepath.Join(state, "spool", "00000000000000000099.events.json.tmp")); !os.IsNotExist(err) {
		t.Error("temporary spool file left behind")
	}
	bad, _ := filepath.Glob(filepath.Join(state, "spool", "*.bad"))
	if len(bad) != 1 {
		t.Errorf("damaged batch not set aside: %v", bad)
	}
}

func TestBundleAndErrors(t *testing.T) {
	if _, err := controlplane.New("ftp://x", nil); err == nil || !strings.Contains(err.Error(), "http") {
		t.Errorf("bad url: %v", err)
	}
	fc := &fakeConsole{seen: map[string]int{}}
	hs := httptest.NewServer(fc)
	defer hs.Close()
	c, _ := controlplane.New(hs.URL, nil)
	defer c.Close()
	ctx := context.Background()
	c.Register(ctx, "good", "gw")
	b, err := c.Bundle(ctx, 0, time.Second)
	if err != nil || b == nil || b.Version != 1 {
		t.Fatalf("bundle = %v, %v", b, err)
	}
	if b, err := c.Bundle(ctx, 1, time.Second); b != nil || err != nil {
		t.Errorf("no-change bundle = %v, %v", b, err)
	}
	if got := (controlplane.Credential{GatewayID: "g", Secret: "s"}).Bearer(); got != "Bearer g.s" {
		t.Errorf("Bearer = %q", got)
	}
}

func FuzzSpoolFile(f *testing.F) {
	f.Add([]byte(`{"events":[{"id":"a","kind":"decision"}]}`))
	f.Add([]byte(`{"events":[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "00000000000000000001.events.json"), data, 0o600)
		c, err := controlplane.New("http://127.0.0.1:1", &controlplane.Options{SpoolDir: dir, RetryMin: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		c.Pending()
		c.Close()
	})
}

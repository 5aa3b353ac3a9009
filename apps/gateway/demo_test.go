package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/ztna"
)

// TestDemoRemovesItsTemporaryDirectory runs `gateway demo` as a user
// would, without --dir: it runs with analytics on, and after Ctrl-C its
// temporary directory, with the gateway's key and the device's config, is
// gone.
func TestDemoRemovesItsTemporaryDirectory(t *testing.T) {
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- runMain(ctx, []string{"demo", "--port", "0", "--admin", "", "--no-qr", "--log-level", "error"}, out, out)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "Ready.") {
		if time.Now().After(deadline) {
			t.Fatalf("demo did not start:\n%s", out.String())
		}
		select {
		case code := <-done:
			t.Fatalf("demo exited %d:\n%s", code, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	m := regexp.MustCompile(`config:\s+(\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no config path printed:\n%s", out.String())
	}
	dir := filepath.Dir(m[1])
	if !strings.Contains(out.String(), dir+" is removed when the demo stops") {
		t.Errorf("the demo does not say its directory goes away:\n%s", out.String())
	}
	cfg, err := ztna.ReadConfig(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Analytics.Enabled {
		t.Error("the demo runs without analytics: what a new user does raises no alert")
	}
	for _, f := range []string{"gateway.key", "ann.conf"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("demo file %s: %v", f, err)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("demo exit %d:\n%s", code, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("demo left %s behind (%v)", dir, err)
	}
}

package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonaut/gonaut/tunnel"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestServe runs the example and uses the wg-quick config it prints to
// bring up a second tunnel that fetches its page.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	ready := make(chan *tunnel.Tunnel, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen-port", "0", "-address", "10.77.0.1/24", "-public-host", "127.0.0.1"}, &out, ready)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(20 * time.Second):
		t.Fatal("not ready")
	}
	text := out.String()
	i := strings.Index(text, "[Interface]")
	if i < 0 || !strings.HasPrefix(text, "public key: ") {
		t.Fatalf("output:\n%s", text)
	}
	cfg, err := tunnel.ParseConfig([]byte(text[i:]))
	if err != nil {
		t.Fatalf("printed config does not parse: %v\n%s", err, text[i:])
	}
	if cfg.Addresses[0] != netip.MustParsePrefix("10.77.0.2/32") {
		t.Errorf("peer address %v", cfg.Addresses)
	}
	peer, err := tunnel.New(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
	defer rcancel()
	req, _ := http.NewRequestWithContext(rctx, "GET", "http://10.77.0.1/", nil)
	resp, err := peer.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Hello 10.77.0.2:") {
		t.Errorf("body %q", body)
	}
}

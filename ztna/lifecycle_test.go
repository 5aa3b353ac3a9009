package ztna_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gonaut/gonaut/ztna"
)

// TestCloseEndsEveryGoroutine starts a gateway with everything that runs
// goroutines of its own — health checks, analytics, a live TCP flow, an
// HTTP connection held by the proxy, a reload whose removed peer waits
// out its grace — and closes it from two goroutines at once: both calls
// return, and once the test's own client is gone, not one goroutine the
// gateway started is left. A third Close, and a Reload, after it are
// harmless.
func TestCloseEndsEveryGoroutine(t *testing.T) {
	w := newWorld(t)
	web := httpServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	w.cfg.Resources = []ztna.ResourceConfig{
		{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{echoServer(t)}, HealthCheck: ztna.HealthCheckConfig{Interval: 20 * time.Millisecond}},
		{Name: "web.corp", Kind: "http", Upstreams: []string{web}},
	}
	w.cfg.Analytics.Enabled = true
	ctx := testCtx(t, 60*time.Second)
	before := goleak.IgnoreCurrent()

	g, err := ztna.New(ctx, w.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl := w.client(t, g, "alice")
	c, err := cl.Dial(ctx, "tcp", "echo.corp:7")
	if err != nil {
		t.Fatal(err)
	}
	echoOnce(t, c, "live")
	hc := cl.HTTPClient()
	resp, err := hc.Get("http://web.corp/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close() // the connection stays open in the proxy
	// bob's device leaves: its peer is removed after a grace period,
	// on a goroutine of the gateway still waiting when Close comes.
	cfg := *w.cfg
	cfg.Devices = w.cfg.Devices[:1]
	if err := g.Reload(ctx, &cfg); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = g.Close()
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("concurrent Close calls did not return")
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("Close #%d: %v", i+1, err)
		}
	}
	c.Close()
	hc.CloseIdleConnections()
	cl.Close()
	goleak.VerifyNone(t, before)

	if err := g.Close(); err != nil {
		t.Errorf("third Close: %v", err)
	}
	if err := g.Reload(context.Background(), w.cfg); !errors.Is(err, ztna.ErrClosed) {
		t.Errorf("Reload after Close = %v, want ErrClosed", err)
	}
	if g.Ready() {
		t.Error("closed gateway reports ready")
	}
}

package ztna_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gonaut/gonaut/tunnel"
	"github.com/gonaut/gonaut/ztna"
)

func mustKey(tb testing.TB) tunnel.Key {
	tb.Helper()
	k, err := tunnel.GeneratePrivateKey()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func testCtx(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// device is a test device: its key and address, and the user it belongs to.
type device struct {
	id, user string
	key      tunnel.Key
	addr     netip.Addr
}

// world is a gateway configuration with three users — alice (eng, MFA),
// bob (eng, no MFA) and carol (sales) — one device each, and resources
// added by the test.
type world struct {
	cfg     *ztna.Config
	devices map[string]*device
	audit   string
}

func newWorld(tb testing.TB) *world {
	tb.Helper()
	dir := tb.TempDir()
	pol, err := os.ReadFile("testdata/policy.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), pol, 0o600); err != nil {
		tb.Fatal(err)
	}
	w := &world{devices: map[string]*device{}, audit: filepath.Join(dir, "audit.jsonl")}
	w.cfg = &ztna.Config{
		PrivateKey: mustKey(tb).String(),
		Address:    "10.77.0.1/16",
		AuditFile:  "audit.jsonl",
		Policies:   []string{"policy.yaml"},
		Recheck:    100 * time.Millisecond,
		Dir:        dir,
		Users: []ztna.UserConfig{
			{ID: "alice", Email: "alice@example.com", Groups: []string{"eng"}, MFA: true},
			{ID: "bob", Groups: []string{"eng"}},
			{ID: "carol", Groups: []string{"sales"}},
		},
	}
	for i, u := range []string{"alice", "bob", "carol"} {
		d := &device{id: u + "-laptop", user: u, key: mustKey(tb), addr: netip.AddrFrom4([4]byte{10, 77, 0, byte(10 + i)})}
		w.devices[u] = d
		w.cfg.Devices = append(w.cfg.Devices, ztna.DeviceConfig{
			ID: d.id, User: u, PublicKey: d.key.PublicKey().String(), Address: d.addr.String(),
			Posture: ztna.PostureConfig{OS: "linux", Managed: true},
		})
	}
	return w
}

func (w *world) start(tb testing.TB, opts *ztna.Options) *ztna.Gateway {
	tb.Helper()
	g, err := ztna.New(context.Background(), w.cfg, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { g.Close() })
	return g
}

// client starts a ztna.Client for user's device, configured by
// ztna.PeerConfig as `gateway peer add` would print it.
func (w *world) client(tb testing.TB, g *ztna.Gateway, user string) *ztna.Client {
	tb.Helper()
	d := w.devices[user]
	tc, err := ztna.PeerConfig(w.cfg, g.PublicKey(), d.key, d.addr, fmt.Sprintf("127.0.0.1:%d", g.ListenPort()))
	if err != nil {
		tb.Fatal(err)
	}
	c := &ztna.Client{Config: tc}
	tb.Cleanup(func() { c.Close() })
	return c
}

func (w *world) events(tb testing.TB) []ztna.Event {
	tb.Helper()
	f, err := os.Open(w.audit)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []ztna.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev ztna.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			tb.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, ev)
	}
	return out
}

// waitEvent polls the audit file for an event matching ok.
func (w *world) waitEvent(tb testing.TB, ok func(ztna.Event) bool) ztna.Event {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, ev := range w.events(tb) {
			if ok(ev) {
				return ev
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("no such audit event; have %+v", w.events(tb))
	return ztna.Event{}
}

// tcpServer is a TCP upstream on loopback that runs handle on each
// connection and closes it after; the listener and every open connection
// close when the test ends.
func tcpServer(tb testing.TB, handle func(net.Conn)) string {
	tb.Helper()
	return tcpServerAt(tb, "127.0.0.1:0", handle)
}

// tcpServerAt is tcpServer on addr.
func tcpServerAt(tb testing.TB, addr string, handle func(net.Conn)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(c)
				c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// echoServer is a TCP echo upstream on loopback.
func echoServer(tb testing.TB) string {
	tb.Helper()
	return echoServerAt(tb, "127.0.0.1:0")
}

// echoServerAt is echoServer on addr.
func echoServerAt(tb testing.TB, addr string) string {
	tb.Helper()
	return tcpServerAt(tb, addr, func(c net.Conn) { io.Copy(c, c) })
}

// httpServer is an HTTP upstream on loopback; it closes when the test
// ends.
func httpServer(tb testing.TB, h http.Handler) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	tb.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().String()
}

func echoOnce(tb testing.TB, c net.Conn, msg string) {
	tb.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		tb.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		tb.Fatal(err)
	}
	if string(buf) != msg {
		tb.Fatalf("echo: got %q, want %q", buf, msg)
	}
	c.SetDeadline(time.Time{})
}

func itoa(n int) string { return fmt.Sprint(n) }

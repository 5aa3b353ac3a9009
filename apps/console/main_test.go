package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/server"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/tunnel"
	"github.com/gonaut/gonaut/ztna"
	"github.com/gonaut/gonaut/ztna/controlplane"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"))
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitUp(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("console at %s never came up: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDemoServeAndVerify(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	done := make(chan int)
	tokenFile := filepath.Join(t.TempDir(), "token")
	go func() {
		done <- run(ctx, []string{"demo", "-db", db, "-listen", addr, "-token-file", tokenFile}, &out, &errb)
	}()
	waitUp(t, addr)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("demo exited %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "http://"+addr) || !strings.Contains(out.String(), "admin@demo.gonaut.dev with password ") {
		t.Errorf("demo output: %q", out.String())
	}
	if tok, _ := os.ReadFile(tokenFile); !bytes.HasPrefix(tok, []byte("gwt_")) {
		t.Errorf("token file = %q", tok)
	}
	out.Reset()
	if code := run(context.Background(), []string{"audit", "verify", "-db", db}, &out, &errb); code != 0 || !strings.Contains(out.String(), "intact") {
		t.Fatalf("verify: %d %q %q", code, out.String(), errb.String())
	}
	st, _ := store.Open(context.Background(), db)
	st.SQL().Exec(`UPDATE audit SET actor = 'mallory' WHERE seq = 10`)
	st.Close()
	out.Reset()
	if code := run(context.Background(), []string{"audit", "verify", "-db", db}, &out, &errb); code != 1 || !strings.Contains(out.String(), "BROKEN at entry 10") {
		t.Errorf("verify after tampering: %d %q", code, out.String())
	}
	if code := run(context.Background(), []string{"bogus"}, &out, &errb); code != 2 {
		t.Errorf("unknown command: %d", code)
	}
}

// TestKill9NoEventLost runs the console binary as its own process, kills
// it with SIGKILL while a gateway client streams events, starts it again
// on the same store, and checks that every event the client emitted is
// stored exactly once and the audit chain is intact.
func TestKill9NoEventLost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the console binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "console")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	db := filepath.Join(dir, "c.db")
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	// Gateways may write events only about users of their bundle.
	if err := st.CreateUser(context.Background(), &store.User{ID: "u_kill9", Email: "kill9@example.com", Role: store.RoleViewer, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	srv, _ := server.New(st, nil)
	_, tok, err := srv.AddGateway(context.Background(), "edge", time.Hour)
	srv.Close()
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve", "-db", db, "-listen", addr)
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go bufio.NewScanner(stdout).Scan()
		waitUp(t, addr)
		return cmd
	}
	cmd := start()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	cl, err := controlplane.New("http://"+addr, &controlplane.Options{StateDir: filepath.Join(dir, "gw"), RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.Register(context.Background(), tok, "edge"); err != nil {
		t.Fatal(err)
	}
	const total = 1200
	for i := range total {
		if i == total/3 {
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
		}
		if i == 2*total/3 {
			cmd = start()
		}
		if err := cl.Emit(controlplane.Event{ID: fmt.Sprintf("ev-%05d", i), Kind: "decision", Subject: "u_kill9", Resource: "r", Effect: "allow"}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, _ := cl.Pending()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events never delivered", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	st, err = store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var n int
	st.SQL().QueryRow(`SELECT COUNT(DISTINCT event_id) FROM audit WHERE action = 'decision'`).Scan(&n)
	var all int
	st.SQL().QueryRow(`SELECT COUNT(*) FROM audit WHERE action = 'decision'`).Scan(&all)
	if n != total || all != total {
		t.Errorf("stored %d distinct / %d decisions, want %d exactly once", n, all, total)
	}
	if rep, err := st.VerifyAudit(context.Background()); err != nil || !rep.OK {
		t.Errorf("audit chain after kill -9: %+v %v", rep, err)
	}
}

// TestMakeRunDemo takes the path `make run` takes: the console demo
// (in-process here) writes the demo gateway's token and ann's device key,
// the gateway binary's demo registers with it and prints a wg-quick
// config, and a ztna.Client with exactly that config fetches the demo
// wiki app through the gateway, which says who is calling.
func TestMakeRunDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway binary")
	}
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"-token-file $$tmp/token -device-key-file $$tmp/ann.key", "--token-file $$tmp/token --device-key $$tmp/ann.key"} {
		if !bytes.Contains(mk, []byte(flag)) {
			t.Fatalf("the Makefile's run target no longer passes %q; keep this test on its path", flag)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "gateway")
	if out, err := exec.Command("go", "build", "-o", bin, "../gateway").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	tokenFile, keyFile := filepath.Join(dir, "token"), filepath.Join(dir, "ann.key")
	go func() {
		done <- run(ctx, []string{"demo", "-db", filepath.Join(dir, "c.db"), "-listen", addr, "-token-file", tokenFile, "-device-key-file", keyFile}, &out, &errb)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("console demo exited %d: %s", code, errb.String())
		}
	}()
	waitUp(t, addr)

	gw := exec.Command(bin, "demo", "--console", "http://"+addr, "--token-file", tokenFile, "--device-key", keyFile,
		"--dir", filepath.Join(dir, "gw"), "--port", "0", "--endpoint", "127.0.0.1:0", "--admin", "", "--no-qr")
	stdout, err := gw.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	gwErr, err := os.Create(filepath.Join(dir, "gateway.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer gwErr.Close()
	gw.Stderr = gwErr // a file: no copying goroutine to race with
	stderrText := func() string { b, _ := os.ReadFile(gwErr.Name()); return string(b) }
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		gw.Process.Signal(syscall.SIGTERM)
		gw.Wait()
	}()
	printed := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if !sent && strings.HasPrefix(sc.Text(), "Ready.") {
				printed <- b.String()
				sent = true
			}
		}
		if !sent {
			printed <- b.String()
		}
	}()
	var text string
	select {
	case text = <-printed:
	case <-time.After(60 * time.Second):
		t.Fatalf("the gateway demo printed no config within 60s; stderr: %s", stderrText())
	}
	i, j := strings.Index(text, "[Interface]"), strings.Index(text, "On Linux:")
	if i < 0 || j < i {
		t.Fatalf("no wg-quick config in the gateway demo's output:\n%s\nstderr: %s", text, stderrText())
	}
	tc, err := tunnel.ReadConfig(strings.NewReader(text[i:j]))
	if err != nil {
		t.Fatalf("printed config: %v\n%s", err, text[i:j])
	}
	cl := &ztna.Client{Config: tc}
	defer cl.Close()
	hc := cl.HTTPClient()
	defer hc.CloseIdleConnections()
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	req, _ := http.NewRequestWithContext(rctx, "GET", "http://wiki.office/", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET http://wiki.office/ with the printed config: %v\ngateway output:\n%s\nstderr: %s", err, text, stderrText())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Hello from the demo wiki app") || !strings.Contains(string(body), demoDeviceOwner) {
		t.Errorf("wiki.office answered %d %q, want the demo app greeting %s", resp.StatusCode, body, demoDeviceOwner)
	}
}

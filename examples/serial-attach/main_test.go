package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gonaut/gonaut/serialfwd"
)

// TestShareAndAttach runs serial-share's and serial-attach's run functions
// end to end: a socat pty pair, the share on one end, the attach pty
// reached through its link, bytes checked on the other end.
func TestShareAndAttach(t *testing.T) {
	if _, err := os.Stat("/usr/bin/socat"); err != nil {
		t.Skip("socat not installed (CI installs it)")
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "A"), filepath.Join(dir, "B")
	socat := exec.Command("/usr/bin/socat", "pty,raw,echo=0,link="+a, "pty,raw,echo=0,link="+b)
	if err := socat.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { socat.Process.Kill(); socat.Wait() })
	waitFile(t, b)

	// The server side, as serial-share builds it.
	srv := serialfwd.NewServer(nil)
	defer srv.Close()
	srv.AddPort(serialfwd.PortConfig{Name: "A", Open: serialfwd.SerialOpener(a, serialfwd.Mode{})})
	l, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l, "A", serialfwd.ProtocolRFC2217)

	ctx, cancel := context.WithCancel(context.Background())
	link := filepath.Join(dir, "ttyREMOTE")
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, &out, l.Addr().String(), link, false) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	waitFile(t, link)

	far, err := serialfwd.OpenSerial(b, serialfwd.Mode{})
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	local, err := serialfwd.OpenSerial(link, serialfwd.Mode{})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	local.Write([]byte("attach\xff"))
	got := make([]byte, 7)
	errc := make(chan error, 1)
	go func() { _, err := io.ReadFull(far, got); errc <- err }()
	select {
	case err := <-errc:
		if err != nil || string(got) != "attach\xff" {
			t.Fatalf("far end got %q, %v", got, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("timed out")
	}
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/serialfwd"
)

// TestShareRaw runs serial-share's run function on a socat pty and sends
// bytes through it in raw mode.
func TestShareRaw(t *testing.T) {
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
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(b); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("socat did not start")
		}
	}

	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, pw, a, "127.0.0.1:0", "raw", 9600, "exclusive", "auto"); pw.Close() }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	f := strings.Fields(line) // sharing PATH on ADDR (raw, exclusive)
	if len(f) < 4 {
		t.Fatalf("unexpected banner %q", line)
	}
	c, err := net.Dial("tcp", f[3])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	far, err := serialfwd.OpenSerial(b, serialfwd.Mode{})
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	c.Write([]byte("raw\xff\xff"))
	got := make([]byte, 5)
	errc := make(chan error, 1)
	go func() { _, err := io.ReadFull(far, got); errc <- err }()
	select {
	case err := <-errc:
		if err != nil || string(got) != "raw\xff\xff" {
			t.Fatalf("far end got %q, %v", got, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("timed out")
	}
}

// TestShareMissingPort checks that a port that does not exist is reported
// when serial-share starts, not when the first client connects.
func TestShareMissingPort(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "ttyNONE")
	err := run(context.Background(), io.Discard, missing, "127.0.0.1:0", "raw", 0, "exclusive", "auto")
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("run on a missing port: %v", err)
	}
	if err := run(context.Background(), io.Discard, os.DevNull, "127.0.0.1:0", "raw", 0, "exclusive", "sometimes"); err == nil {
		t.Fatal("run accepted an unknown -modem-lines")
	}
}

package serialfwd

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestBridgeEndToEnd connects a local pty through the Gonaut client and
// server to one end of a socat pty pair. An unmodified program (stty)
// changes the pty's settings, which must reach the far tty; bytes flow
// both ways through the stable symlink.
func TestBridgeEndToEnd(t *testing.T) {
	pp := newPtyPair(t)
	_, addr := serve(t, nil, PortConfig{Name: "pty", Open: SerialOpener(pp.A, Mode{BaudRate: 38400})}, ProtocolRFC2217)
	far, err := openSerial(pp.B, Mode{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	ctx := ctxTimeout(t, 30*time.Second)
	c, err := Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "ttyREMOTE")
	b, err := NewBridge(ctx, c, &BridgeOptions{Link: link, PollInterval: 10 * time.Millisecond})
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	defer b.Close()
	if target, err := os.Readlink(link); err != nil || target != b.Path() {
		t.Fatalf("link %s -> %q, %v; want %s", link, target, err, b.Path())
	}
	if !contains(stty(t, link), "speed 38400 baud") {
		t.Fatal("the pty does not show the remote's baud rate")
	}

	out, err := exec.Command("stty", "-F", link, "4800", "cstopb").CombinedOutput()
	if err != nil {
		t.Fatalf("stty: %v: %s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := stty(t, pp.A)
		if contains(st, "speed 4800 baud") && contains(st, " cstopb") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("settings made on the bridge pty did not reach the far tty:\n%s", st)
		}
		time.Sleep(10 * time.Millisecond)
	}

	local, err := OpenSerial(link, Mode{BaudRate: 4800, StopBits: StopBits2})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	want := allBytes(32)
	go local.Write(want)
	if got := readFull(t, far, len(want), 10*time.Second); !bytes.Equal(got, want) {
		t.Fatal("bytes written to the bridge pty arrived changed")
	}
	go far.Write(want)
	if got := readFull(t, local, len(want), 10*time.Second); !bytes.Equal(got, want) {
		t.Fatal("bytes from the far tty arrived changed on the bridge pty")
	}
	local.Close()
	b.Close()
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Fatalf("link not removed: %v", err)
	}
}

// TestBridgeRemoteGone checks the bridge reports the remote's end and that
// Close, Server.Close and Client.Close are all safe to repeat.
func TestBridgeRemoteGone(t *testing.T) {
	dev := newMemDevice()
	srv, addr := serve(t, nil, PortConfig{Name: "mem", Open: func(context.Context) (Device, error) { return dev, nil }}, ProtocolRFC2217)
	ctx := ctxTimeout(t, 20*time.Second)
	c, err := Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBridge(ctx, c, nil)
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	srv.Close()
	srv.Close()
	select {
	case <-b.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("bridge did not notice the remote ended")
	}
	if b.Err() == nil {
		t.Fatal("no reason given")
	}
	b.Close()
	b.Close()
	c.Close()
}

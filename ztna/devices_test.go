package ztna_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonaut/gonaut/ztna"
)

// forward listens on loopback and carries every connection through the
// client to target: how a stock tool on this host (usbip, pyserial) reaches
// a resource behind the gateway as the client's identity.
func forward(tb testing.TB, c *ztna.Client, target string) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			lc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer lc.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				rc, err := c.Dial(ctx, "tcp", target)
				cancel()
				if err != nil {
					return
				}
				defer rc.Close()
				mu.Lock()
				open = append(open, lc, rc)
				mu.Unlock()
				go func() { io.Copy(rc, lc); rc.Close() }()
				io.Copy(lc, rc)
			}()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func needTool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		tb.Skipf("needs %s (Debian package in .ci/run)", name)
	}
	return p
}

// The Linux usbip client, through a ztna.Client and the gateway, sees only
// the devices policy lets it see, and an import is allowed or refused by
// policy.
func TestUSBThroughGateway(t *testing.T) {
	usbip := needTool(t, "usbip")
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "lab-usb.corp", Kind: "usb", USB: []ztna.USBDeviceConfig{
		{BusID: "1-1", Simulate: "keyboard", SerialNumber: "KB-1"},
		{BusID: "1-2", Simulate: "storage", SerialNumber: "DISK-2"},
	}}}
	var logs syncBuffer
	g := w.start(t, &ztna.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	addr := forward(t, w.client(t, g, "alice"), "lab-usb.corp:3240")
	_, port, _ := net.SplitHostPort(addr)
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, usbip, append([]string{"--tcp-port", port}, args...)...).CombinedOutput()
		return string(out), err
	}
	out, err := run("list", "-r", "127.0.0.1")
	if err != nil {
		t.Fatalf("usbip list: %v\n%s", err, out)
	}
	if !strings.Contains(out, "1-1") || strings.Contains(out, "1-2") {
		t.Errorf("usbip list through the gateway shows:\n%s\nwant 1-1 only", out)
	}
	out, _ = run("attach", "-r", "127.0.0.1", "-b", "1-2")
	if !strings.Contains(out, "Attach Request for 1-2 failed") {
		t.Errorf("import of a denied device:\n%s", out)
	}
	out, err = run("attach", "-r", "127.0.0.1", "-b", "1-1")
	if err == nil {
		t.Logf("usbip attach succeeded: this kernel has vhci_hcd\n%s", out)
	} else if strings.Contains(out, "Attach Request for 1-1 failed") || !strings.Contains(out, "vhci") {
		t.Errorf("import of an allowed device did not pass the handshake:\n%s", out)
	}
	allow := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Resource == "lab-usb.corp" && ev.Path == "1-1" })
	deny := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Resource == "lab-usb.corp" && ev.Path == "1-2" })
	// usbip can only say "Request Failed"; the gateway's log says who was
	// refused and by which rule.
	if l := logs.String(); deny.Effect == "deny" && !regexp.MustCompile(`usbip: import refused" busid=1-2 principal.subject=alice .*reason=".*rule`).MatchString(l) {
		t.Errorf("refused import not logged with subject and rule:\n%s", l)
	}
	if allow.Effect != "allow" || allow.Rule != "eng-usb-keyboard" || deny.Effect != "deny" {
		t.Errorf("import events: %+v / %+v", allow, deny)
	}

	// carol is not in eng: she sees nothing.
	addr = forward(t, w.client(t, g, "carol"), "lab-usb.corp:3240")
	_, port, _ = net.SplitHostPort(addr)
	out, _ = run("list", "-r", "127.0.0.1")
	if strings.Contains(out, "1-1") || strings.Contains(out, "1-2") {
		t.Errorf("carol's list shows devices:\n%s", out)
	}
}

// pyserial's RFC 2217 client, through a ztna.Client and the gateway, talks
// to a pty shared as a serial resource; a user outside the policy is
// refused.
func TestSerialThroughGateway(t *testing.T) {
	py := needPyserial(t)
	_, a, b := ptyPair(t)
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "console.corp", Kind: "serial", Serial: &ztna.SerialConfig{Path: a, Baud: 115200}}}
	g := w.start(t, nil)

	// The far end of the pty answers every line in upper case.
	far, err := os.OpenFile(b, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := far.Read(buf)
			if err != nil {
				return
			}
			far.Write([]byte(strings.ToUpper(string(buf[:n]))))
		}
	}()

	script := `
import serial, sys
s = serial.serial_for_url("rfc2217://" + sys.argv[1], do_not_open=True, baudrate=9600, timeout=10)
# A pty has no DTR/RTS lines: open with both off, as the server can honour.
s.dtr = False
s.rts = False
s.open()
s.write(b"hello serial\n")
got = s.read(13)
print(got.decode())
s.close()
`
	pyrun := func(addr string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, py, "-c", script, addr).CombinedOutput()
		return string(out), err
	}
	out, err := pyrun(forward(t, w.client(t, g, "alice"), "console.corp:2217"))
	if err != nil || strings.TrimSpace(out) != "HELLO SERIAL" {
		t.Fatalf("pyserial through the gateway: %v\n%s", err, out)
	}
	out, err = pyrun(forward(t, w.client(t, g, "carol"), "console.corp:2217"))
	if err == nil {
		t.Errorf("carol reached the serial console: %s", out)
	}
	deny := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Resource == "console.corp" && ev.Subject == "carol" })
	if deny.Effect != "deny" {
		t.Errorf("carol's serial decision: %+v", deny)
	}
	flow := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Resource == "console.corp" && ev.Kind == ztna.EventFlow })
	if flow.Subject != "alice" || flow.BytesIn == 0 || flow.BytesOut == 0 {
		t.Errorf("alice's serial flow: %+v", flow)
	}
}

// needPyserial skips the test without socat or Debian's python3-serial and
// returns the python to run.
func needPyserial(t *testing.T) string {
	t.Helper()
	needTool(t, "socat")
	py := needTool(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import serial").Run(); err != nil {
		t.Skip("needs python3-serial")
	}
	return py
}

// ptyPair makes a connected pty pair with socat, linked as dir/ttyA and
// dir/ttyB, for the test's lifetime.
func ptyPair(t *testing.T) (dir, a, b string) {
	t.Helper()
	dir = t.TempDir()
	a, b = filepath.Join(dir, "ttyA"), filepath.Join(dir, "ttyB")
	socat := exec.Command("socat", "pty,raw,echo=0,link="+a, "pty,raw,echo=0,link="+b)
	if err := socat.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { socat.Process.Kill(); socat.Wait() })
	for i := 0; ; i++ {
		if _, err := os.Stat(b); err == nil {
			return dir, a, b
		}
		if i > 200 {
			t.Fatal("socat made no pty pair")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer that a logger may write from several
// goroutines while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

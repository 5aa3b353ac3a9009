//go:build linux

package usbip_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gonaut/gonaut/usbip"
	"github.com/gonaut/gonaut/usbip/sim"
)

func runUsbip(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, needTool(t, "usbip"), args...).CombinedOutput()
	return string(out), err
}

// The stock Linux usbip tool lists the Gonaut server's simulated devices
// with their VID:PID, classes and interfaces.
func TestLinuxUsbipList(t *testing.T) {
	needTool(t, "usbip")
	srv := startServer(t, &usbip.ServerOptions{
		Authorize: func(_ context.Context, r usbip.AuthRequest) error {
			if r.BusID == "1-4" {
				return errors.New("hidden")
			}
			return nil
		},
	}, sim.NewKeyboard("K"), sim.NewSerial("S"), sim.NewStorage("M", 1<<20), sim.NewKeyboard("HIDDEN"))
	out, err := runUsbip(t, "--tcp-port", srv.port(), "list", "-r", "127.0.0.1")
	if err != nil {
		t.Fatalf("usbip list: %v\n%s", err, out)
	}
	for _, want := range []string{
		`1-1: .*\(1209:0001\)`,
		`0 - Human Interface Device / Boot Interface Subclass / Keyboard \(03/01/01\)`,
		`1-2: .*\(1209:0002\)`,
		`Communications / .* \(02/00/00\)`,
		`0 - Communications / Abstract \(modem\) / .* \(02/02/01\)`,
		`1 - CDC Data / .* \(0a/00/00\)`,
		`1-3: .*\(1209:0003\)`,
		`0 - Mass Storage / SCSI / Bulk-Only \(08/06/50\)`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("usbip list output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "1-4") {
		t.Errorf("device hidden by the authorizer is listed:\n%s", out)
	}
}

// usbip attach completes the import handshake for an allowed device (and
// then fails locally: this kernel has no vhci_hcd) and is refused with
// "Request Failed" for a denied one.
func TestLinuxUsbipAttach(t *testing.T) {
	needTool(t, "usbip")
	rec := &logRecorder{}
	var mu sync.Mutex
	var asked []string
	srv := startServer(t, &usbip.ServerOptions{
		Logger: slog.New(rec),
		Authorize: func(_ context.Context, r usbip.AuthRequest) error {
			if r.Op != usbip.OpImport {
				return nil
			}
			mu.Lock()
			asked = append(asked, r.BusID)
			mu.Unlock()
			if r.BusID == "1-2" {
				return errors.New("policy says no")
			}
			return nil
		},
	}, sim.NewKeyboard("K"), sim.NewStorage("M", 1<<20))

	out, err := runUsbip(t, "--tcp-port", srv.port(), "attach", "-r", "127.0.0.1", "-b", "1-1")
	if err == nil {
		t.Logf("usbip attach succeeded: this kernel has vhci_hcd\n%s", out)
	} else if strings.Contains(out, "Attach Request for 1-1 failed") {
		t.Fatalf("allowed import refused:\n%s", out)
	} else if !strings.Contains(out, "vhci") {
		t.Fatalf("usbip attach failed before its local vhci step:\n%s", out)
	}
	// The server saw the import succeed and the device released after.
	deadline := time.Now().Add(5 * time.Second)
	for !(rec.has("usbip: device imported busid=1-1") && rec.has("usbip: device released busid=1-1")) {
		if time.Now().After(deadline) {
			t.Fatalf("server did not log the import and release of 1-1: %q", rec.all())
		}
		time.Sleep(10 * time.Millisecond)
	}

	out, err = runUsbip(t, "--tcp-port", srv.port(), "attach", "-r", "127.0.0.1", "-b", "1-2")
	if err == nil || !strings.Contains(out, "Attach Request for 1-2 failed - Request Failed") {
		t.Fatalf("denied import: err=%v\n%s", err, out)
	}
	// The protocol has no room for a reason: the server logs it, after
	// answering.
	for deadline := time.Now().Add(5 * time.Second); !(rec.has("usbip: import refused busid=1-2") && rec.has("policy says no")); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("refusal of 1-2 not logged with its reason: %q", rec.all())
			break
		}
	}
	out, _ = runUsbip(t, "--tcp-port", srv.port(), "attach", "-r", "127.0.0.1", "-b", "7-7")
	if !strings.Contains(out, "Device not found") {
		t.Errorf("unknown bus id:\n%s", out)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(asked) != "[1-1 1-2]" {
		t.Errorf("authorizer asked for %v", asked)
	}
}

// The Gonaut client against the real usbipd (which exports nothing here:
// this kernel has no usbip-host module) inside a test network namespace.
func TestClientAgainstUsbipd(t *testing.T) {
	usbipd := needTool(t, "usbipd")
	ns := newNetns(t)
	const port = "3240"
	cmd := ns.command(usbipd, "-4", "--tcp-port", port)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	ctx := testCtx(t)
	var devs []usbip.ExportedDevice
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := ns.dial("127.0.0.1:" + port)
		if err == nil {
			devs, err = usbip.List(ctx, c)
			c.Close()
			if err != nil {
				t.Fatalf("list from usbipd: %v\n%s", err, stderr.String())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usbipd never listened: %v\n%s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(devs) != 0 {
		t.Errorf("usbipd without usbip-host lists %+v", devs)
	}
	c, err := ns.dial("127.0.0.1:" + port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = usbip.Import(ctx, c, "1-1", nil)
	var oe *usbip.OpError
	if !errors.Is(err, usbip.ErrNotFound) || !errors.As(err, &oe) || oe.Status != usbip.OpNoDevice {
		t.Fatalf("import from usbipd: %v", err)
	}
}

// Wireshark's USB/IP dissector decodes a captured Gonaut client/server
// session, URBs included, without malformed packets or expert errors.
func TestTsharkDecodesSession(t *testing.T) {
	tshark := needTool(t, "tshark")
	if os.Geteuid() != 0 {
		t.Skip("needs root to capture on lo (CI runs as root)")
	}
	kbd := sim.NewKeyboard("K")
	srv := startServer(t, nil, kbd, sim.NewSerial("S"))
	pcap := filepath.Join(t.TempDir(), "usbip.pcapng")
	capCtx, stopCapture := context.WithCancel(context.Background())
	defer stopCapture()
	capture := exec.CommandContext(capCtx, tshark, "-i", "lo", "-f", "tcp port "+srv.port(), "-w", pcap)
	capture.Cancel = func() error { return capture.Process.Signal(os.Interrupt) }
	stderr, err := capture.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := capture.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		// "Capturing on" comes before dumpcap has opened the interface;
		// "Capture started" (tshark 4) after. Older versions print only the
		// first, so allow a grace period after it.
		var grace <-chan time.Time
		lines := make(chan string)
		go func() {
			defer close(lines)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					started <- fmt.Errorf("tshark exited before capturing")
					return
				}
				if strings.Contains(l, "Capturing on") {
					grace = time.After(2 * time.Second)
				}
				if strings.Contains(l, "Capture started") {
					started <- nil
					for range lines {
					}
					return
				}
			case <-grace:
				started <- nil
				for range lines {
				}
				return
			}
		}
	}()
	select {
	case err := <-started:
		if err != nil {
			t.Skipf("cannot capture on lo here: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("tshark did not start capturing")
	}

	// The session: list, import the keyboard (descriptors read), configure,
	// two keys, an unlinked interrupt IN; import the serial device and
	// loop bytes through it.
	ctx := testCtx(t)
	list(t, srv.addr)
	d := importDev(t, srv.addr, "1-1")
	setConfig(t, d, 1)
	kbd.Type(ctx, "ab")
	for range 4 {
		if _, err := d.Transfer(ctx, sim.KeyboardEndpoint, make([]byte, 8)); err != nil {
			t.Fatal(err)
		}
	}
	uctx, cancel := context.WithCancel(ctx)
	r, _ := d.Submit(uctx, sim.KeyboardEndpoint, make([]byte, 8))
	time.Sleep(20 * time.Millisecond)
	cancel()
	if _, err := r.Wait(); !errors.Is(err, usbip.ErrUnlinked) {
		t.Fatalf("unlink: %v", err)
	}
	d.Close()
	s := importDev(t, srv.addr, "1-2")
	setConfig(t, s, 1)
	if _, err := s.Transfer(ctx, sim.SerialOutEndpoint, []byte("gonaut over usbip")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Transfer(ctx, sim.SerialInEndpoint, make([]byte, 512)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	time.Sleep(300 * time.Millisecond) // let the capture see the last segments
	stopCapture()
	capture.Wait()

	decode := func(extra ...string) string {
		args := append([]string{"-r", pcap, "-d", "tcp.port==" + srv.port() + ",usbip"}, extra...)
		var errb bytes.Buffer
		c := exec.Command(tshark, args...)
		c.Stderr = &errb
		out, err := c.Output()
		if err != nil {
			t.Fatalf("tshark -r: %v\n%s", err, errb.String())
		}
		return string(out)
	}
	if os.Getenv("USBIP_KEEP_PCAP") != "" {
		exec.Command("cp", pcap, os.Getenv("USBIP_KEEP_PCAP")).Run()
	}
	summary := decode()
	for _, want := range []string{
		"Device List Request", "Device List Response", "Import Request", "Import Response",
		"GET DESCRIPTOR Response DEVICE", "GET DESCRIPTOR Response CONFIGURATION", "SET CONFIGURATION Response",
		"URB Submit", "URB Response", "URB Unlink", "URB Unlink Response",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("tshark summary lacks %q", want)
		}
	}
	detail := decode("-O", "usbip")
	for _, want := range []string{
		"Busid: 1-1", "Busid: 1-2", "idVendor: Generic (0x1209)", "bInterfaceClass: HID (0x03)",
		"OP_CMD_SUBMIT", "OP_RET_SUBMIT", "OP_CMD_UNLINK", "OP_RET_UNLINK",
	} {
		if !strings.Contains(detail, want) {
			t.Errorf("tshark detail lacks %q", want)
		}
	}
	bad := decode("-Y", "_ws.malformed || _ws.expert.severity >= \"warning\" || usbip.data || usbip.unsupported_version")
	if strings.TrimSpace(bad) != "" {
		t.Errorf("tshark flags frames:\n%s\n--- detail ---\n%s", bad, detail)
	}
	if t.Failed() {
		t.Logf("decode:\n%s", summary)
	}
}

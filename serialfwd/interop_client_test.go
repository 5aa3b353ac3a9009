package serialfwd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// startSer2net runs Debian's ser2net in RFC 2217 mode (or raw TCP mode)
// on the pty at dev and returns its address; it is killed at cleanup.
func startSer2net(tb testing.TB, dev string, rfc2217 bool) string {
	tb.Helper()
	addr, _ := startSer2netProc(tb, dev, rfc2217)
	return addr
}

// startSer2netProc is startSer2net that also returns ser2net's pid.
func startSer2netProc(tb testing.TB, dev string, rfc2217 bool) (string, int) {
	tb.Helper()
	needTool(tb, "/usr/sbin/ser2net")
	port := freePort(tb)
	accepter := fmt.Sprintf("tcp,127.0.0.1,%d", port)
	if rfc2217 {
		accepter = "telnet(rfc2217)," + accepter
	}
	conf := fmt.Sprintf(`connection: &con
  accepter: %s
  connector: serialdev,%s,115200n81,local
  options:
    kickolduser: true
    chardelay: false
`, accepter, dev)
	file := filepath.Join(tb.TempDir(), "ser2net.yaml")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command("/usr/sbin/ser2net", "-n", "-d", "-c", file, "-P", filepath.Join(filepath.Dir(file), "pid"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("ser2net: %v", err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if tb.Failed() {
			tb.Logf("ser2net output:\n%s", out.String())
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := netDialer.DialContext(context.Background(), "tcp", addr)
		if err == nil {
			c.Close()
			return addr, cmd.Process.Pid
		}
		if time.Now().After(deadline) {
			tb.Fatalf("ser2net did not listen on %s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkClient runs the checks every server must pass with the Gonaut
// client: all byte values both ways, baud-rate changes visible with stty,
// break, and the answer to DTR on a pty.
//
// ser2net (4.x, Debian) answers SET-CONTROL BREAK-OFF with BREAK-ON (and
// ignores DTR on a pty altogether), so against it a refused break-off is
// expected and logged rather than failed.
func checkClient(t *testing.T, c *Client, pp *ptyPair, far Device, ser2net bool) {
	ctx := ctxTimeout(t, 30*time.Second)
	want := allBytes(16)
	if _, err := c.Write(want); err != nil {
		t.Fatal(err)
	}
	if got := readFull(t, far, len(want), 10*time.Second); !bytes.Equal(got, want) {
		t.Fatalf("pty received different bytes than the client wrote")
	}
	rev := slices.Clone(want)
	slices.Reverse(rev)
	if _, err := far.Write(rev); err != nil {
		t.Fatal(err)
	}
	if got := readFull(t, c, len(rev), 10*time.Second); !bytes.Equal(got, rev) {
		t.Fatalf("client received different bytes than the pty wrote")
	}

	m, err := c.SetMode(ctx, Mode{BaudRate: 9600, StopBits: StopBits2})
	if err != nil {
		t.Fatalf("SetMode: %v", err)
	}
	if m.BaudRate != 9600 || m.StopBits != StopBits2 {
		t.Fatalf("SetMode answered %v", m)
	}
	st := stty(t, pp.A)
	if !contains(st, "speed 9600 baud") || !contains(st, " cstopb") {
		t.Fatalf("stty does not show 9600 baud, 2 stop bits:\n%s", st)
	}
	// A baud rate with 0xFF in it exercises IAC doubling in subnegotiations.
	if m, err := c.SetMode(ctx, Mode{BaudRate: 0x0001C2FF}); err != nil || m.BaudRate != 0x0001C2FF {
		t.Fatalf("SetMode(115455) = %v, %v", m, err)
	}
	if m, err := c.SetMode(ctx, Mode{BaudRate: 57600}); err != nil || m.BaudRate != 57600 {
		t.Fatalf("SetMode(57600) = %v, %v", m, err)
	}
	if !contains(stty(t, pp.A), "speed 57600 baud") {
		t.Fatalf("stty does not show 57600 baud")
	}

	if err := c.SendBreak(ctx, 20*time.Millisecond); err != nil {
		if !ser2net || !errors.Is(err, ErrRefused) {
			t.Fatalf("SendBreak: %v", err)
		}
		t.Logf("ser2net's answer to break: %v", err)
	}

	// Data still flows after all that.
	if _, err := c.Write([]byte{0xFF, 0x00, 0xFF}); err != nil {
		t.Fatal(err)
	}
	if got := readFull(t, far, 3, 10*time.Second); !bytes.Equal(got, []byte{0xFF, 0x00, 0xFF}) {
		t.Fatalf("after control: got %x", got)
	}
}

// TestClientAgainstSer2net runs the Gonaut client against Debian ser2net
// in RFC 2217 mode over a socat pty pair.
func TestClientAgainstSer2net(t *testing.T) {
	pp := newPtyPair(t)
	addr := startSer2net(t, pp.A, true)
	far, err := openSerial(pp.B, Mode{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	c, err := Dial(ctxTimeout(t, 10*time.Second), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	checkClient(t, c, pp, far, true)
}

// TestClientAgainstServer runs the same checks against the Gonaut server,
// plus the answers only it gives exactly: the refused data size and, with
// real modem lines, the refused DTR.
func TestClientAgainstServer(t *testing.T) {
	pp := newPtyPair(t)
	_, addr := serve(t, nil, PortConfig{Name: "pty", ModemLines: ModemLinesReal, Open: SerialOpener(pp.A, Mode{})}, ProtocolRFC2217)
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
	defer c.Close()
	checkClient(t, c, pp, far, false)

	m, err := c.SetMode(ctx, Mode{DataBits: 7, Parity: ParityEven})
	if !errors.Is(err, ErrRefused) || m.DataBits != 8 || m.Parity != ParityNone {
		t.Fatalf("CS7 even parity on a pty: got %v, %v; want the 8N kept and ErrRefused", m, err)
	}
	if on, err := c.SetDTR(ctx, true); !errors.Is(err, ErrRefused) || on {
		t.Fatalf("DTR on a pty: got %v, %v; want off and ErrRefused", on, err)
	}
	if on, err := c.SetRTS(ctx, false); err != nil || on {
		t.Fatalf("RTS off: got %v, %v", on, err)
	}
	if sig, err := c.Signature(ctx); err != nil || sig != "Gonaut serialfwd" {
		t.Fatalf("signature %q, %v", sig, err)
	}
	if err := c.Purge(ctx, true, true); err != nil {
		t.Fatalf("purge: %v", err)
	}
	if m, err := c.SetMode(ctx, Mode{Flow: FlowHardware}); err != nil || m.Flow != FlowHardware {
		t.Fatalf("flow control: %v, %v", m, err)
	}
	if !contains(stty(t, pp.A), " crtscts") {
		t.Fatalf("stty does not show crtscts")
	}
}

package serialfwd

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// TestPyserialClient drives pyserial's rfc2217:// client (Debian
// python3-serial) against the Gonaut server sharing one end of a socat pty
// pair, and checks on the other end and with stty what reached the tty.
func TestPyserialClient(t *testing.T) {
	needTool(t, "/usr/lib/python3/dist-packages/serial/rfc2217.py")
	pty := servePty(t, ModemLinesReal) // as for hardware: the pty's refusals are reported
	pp, far := pty.pp, pty.far
	py := runPyserial(t, "testdata/pyserial_client.py", pty.addr)
	stdin, out, cmd := py.stdin, py.out, py.cmd

	out.expect(t, "open")
	out.expect(t, "wrote")
	want := allBytes(4)
	got := readFull(t, far, len(want), 10*time.Second)
	if !bytes.Equal(got, want) {
		t.Fatalf("pty received %d bytes, not the 1024 written in order", len(got))
	}
	rev := slices.Clone(want)
	slices.Reverse(rev)
	if _, err := far.Write(rev); err != nil {
		t.Fatal(err)
	}
	stdin.Write([]byte("go\n"))
	out.expect(t, "read ok")

	out.expect(t, "mode")
	st := stty(t, pp.A)
	for _, w := range []string{"speed 9600 baud", " cs8", " cstopb"} {
		if !contains(st, w) {
			t.Errorf("stty -F %s lacks %q:\n%s", pp.A, w, st)
		}
	}
	stdin.Write([]byte("go\n"))
	out.expect(t, "datasize rejected")
	out.expect(t, "datasize 8 baud 4800")
	st = stty(t, pp.A)
	for _, w := range []string{"speed 4800 baud", " cs8", " cstopb"} {
		if !contains(st, w) {
			t.Errorf("stty -F %s lacks %q:\n%s", pp.A, w, st)
		}
	}
	stdin.Write([]byte("go\n"))

	out.expect(t, "break")
	// A pty refuses DTR: the server answers with the state actually in
	// effect (off), and pyserial reports the rejection.
	out.expect(t, "dtr rejected")
	out.expect(t, "cts False")
	out.expect(t, "closed")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("pyserial: %v", err)
	}
	calls := pty.rec.Calls() // set once the server opened the device
	if !slices.Contains(calls, "break true -> true err=false") || !slices.Contains(calls, "break false -> false err=false") {
		t.Errorf("break did not reach the pty: %q", calls)
	}
	if !slices.Contains(calls, "dtr true -> false err=true") {
		t.Errorf("DTR request not tried on the pty: %q", calls)
	}
}

// ptyPort is a Gonaut RFC 2217 server sharing one end of a socat pty
// pair, the other end open for the test, and the device as the server
// drives it.
type ptyPort struct {
	pp   *ptyPair
	addr string // the server's address
	far  Device // the pair's other end
	rec  *recordingDevice
}

// servePty serves a pty-backed port with the given modem-line mode until
// the test ends.
func servePty(t *testing.T, lines ModemLines) *ptyPort {
	t.Helper()
	p := &ptyPort{pp: newPtyPair(t)}
	_, p.addr = serve(t, nil, PortConfig{Name: "pty", ModemLines: lines, Open: func(ctx context.Context) (Device, error) {
		d, err := OpenSerial(p.pp.A, Mode{})
		if err != nil {
			return nil, err
		}
		p.rec = &recordingDevice{Device: d}
		return p.rec, nil
	}}, ProtocolRFC2217)
	far, err := openSerial(p.pp.B, Mode{}, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { far.Close() })
	p.far = far
	return p
}

// pyserialRun is a pyserial script driven line by line.
type pyserialRun struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *lineScanner
}

// runPyserial starts script under Debian's python3 with the rfc2217 URL
// of addr; at the end of the test it is killed, and its stderr logged if
// the test failed.
func runPyserial(t *testing.T, script, addr string) *pyserialRun {
	t.Helper()
	cmd := exec.Command("/usr/bin/python3", script, "rfc2217://"+addr)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("pyserial stderr:\n%s", stderr.String())
		}
	})
	return &pyserialRun{cmd: cmd, stdin: stdin, out: newLineScanner(stdout)}
}

package serialfwd

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPyserialDefaultOpenOnPty opens a pty-backed port with pyserial's
// default options, which set DTR and RTS on open, then changes the baud
// rate, sends a break and asks for hardware flow control. A pty has no modem
// lines; with the default ModemLinesAuto the port answers them virtually, so
// every step succeeds, and the data and the baud rate reach the tty.
func TestPyserialDefaultOpenOnPty(t *testing.T) {
	needTool(t, "/usr/lib/python3/dist-packages/serial/rfc2217.py")
	pty := servePty(t, ModemLinesAuto)
	pp, far := pty.pp, pty.far
	py := runPyserial(t, "testdata/pyserial_default.py", pty.addr)
	out, cmd := py.out, py.cmd
	out.expect(t, "open dtr=True rts=True")
	out.expect(t, "wrote")
	msg := "hello from pyserial\n"
	if got := readFull(t, far, len(msg), 10*time.Second); string(got) != msg {
		t.Fatalf("pty received %q", got)
	}
	out.expect(t, "baud 9600")
	if st := stty(t, pp.A); !strings.Contains(st, "speed 9600 baud") {
		t.Errorf("baud change did not reach the pty:\n%s", st)
	}
	out.expect(t, "break")
	out.expect(t, "rtscts True")
	out.expect(t, "toggled")
	out.expect(t, "closed")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("pyserial: %v", err)
	}
	for _, c := range pty.rec.Calls() {
		if strings.HasPrefix(c, "dtr") || strings.HasPrefix(c, "rts") {
			t.Errorf("a virtual line reached the pty: %q", c)
		}
	}
	if calls := pty.rec.Calls(); !slices.Contains(calls, "break true -> true err=false") {
		t.Errorf("break did not reach the pty: %q", calls)
	}
}

// TestModemLinesModes drives each mode over RFC 2217 with the Gonaut
// client against a device that has modem lines.
func TestModemLinesModes(t *testing.T) {
	for _, tc := range []struct {
		lines     ModemLines
		answer    bool // the DTR state the client is told after asking for on
		refused   bool
		reachesHW bool
	}{
		{ModemLinesAuto, true, false, true},
		{ModemLinesReal, true, false, true},
		{ModemLinesVirtual, true, false, false},
		{ModemLinesRefuse, false, true, false},
	} {
		t.Run(tc.lines.String(), func(t *testing.T) {
			dev := newMemDevice()
			_, addr := serve(t, nil, PortConfig{
				Name: "uart", ModemLines: tc.lines, ModemPoll: -1,
				Open: func(context.Context) (Device, error) { return dev, nil },
			}, ProtocolRFC2217)
			ctx := ctxTimeout(t, 20*time.Second)
			c, err := Dial(ctx, addr, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			on, err := c.SetDTR(ctx, true)
			if on != tc.answer || errors.Is(err, ErrRefused) != tc.refused {
				t.Fatalf("DTR on: answered %v, %v", on, err)
			}
			on, err = c.SetRTS(ctx, true)
			if on != tc.answer || errors.Is(err, ErrRefused) != tc.refused {
				t.Fatalf("RTS on: answered %v, %v", on, err)
			}
			if m, _ := dev.ModemState(); m.DTR != tc.reachesHW || m.RTS != tc.reachesHW {
				t.Fatalf("device lines %+v, want DTR and RTS %v", m, tc.reachesHW)
			}
		})
	}
}

// TestModemLinesAutoOnPty checks that auto picks virtual lines on a pty and
// that refuse stays available there: DTR requests are then refused.
func TestModemLinesAutoOnPty(t *testing.T) {
	for _, tc := range []struct {
		lines  ModemLines
		answer bool
	}{{ModemLinesAuto, true}, {ModemLinesReal, false}, {ModemLinesRefuse, false}} {
		t.Run(tc.lines.String(), func(t *testing.T) {
			pp := newPtyPair(t)
			_, addr := serve(t, nil, PortConfig{Name: "pty", ModemLines: tc.lines,
				Open: SerialOpener(pp.A, Mode{})}, ProtocolRFC2217)
			ctx := ctxTimeout(t, 20*time.Second)
			c, err := Dial(ctx, addr, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			on, err := c.SetDTR(ctx, true)
			if on != tc.answer || (err != nil) == tc.answer {
				t.Fatalf("DTR on a pty with %v lines: %v, %v", tc.lines, on, err)
			}
			if tc.answer {
				if m := c.ModemState(); !m.DTR {
					t.Fatalf("remembered DTR not reported: %+v", m)
				}
			}
		})
	}
}

func TestParseModemLines(t *testing.T) {
	for i, n := range modemLinesNames {
		got, err := ParseModemLines(n)
		if err != nil || got != ModemLines(i) || got.String() != n {
			t.Errorf("ParseModemLines(%q) = %v, %v", n, got, err)
		}
	}
	if got, err := ParseModemLines(""); err != nil || got != ModemLinesAuto {
		t.Errorf("empty: %v, %v", got, err)
	}
	if _, err := ParseModemLines("Virtual"); err == nil {
		t.Error("ParseModemLines accepted a misspelt mode")
	}
	if err := NewServer(nil).AddPort(PortConfig{Name: "x", Open: SerialOpener("/dev/null", Mode{}), ModemLines: 9}); err == nil {
		t.Error("AddPort accepted an unknown modem line mode")
	}
}

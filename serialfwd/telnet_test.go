package serialfwd

import (
	"bytes"
	"errors"
	"testing"
)

// decodeAll decodes p cut into pieces of size step, collecting data and
// events.
func decodeAll(t testing.TB, p []byte, step int) ([]byte, []telnetEvent, error) {
	var d telnetDecoder
	var data []byte
	var evs []telnetEvent
	for len(p) > 0 {
		n := min(step, len(p))
		err := d.decode(p[:n], func(b []byte) error {
			data = append(data, b...)
			return nil
		}, func(ev telnetEvent) error {
			ev.sb = bytes.Clone(ev.sb)
			evs = append(evs, ev)
			return nil
		})
		if err != nil {
			return data, evs, err
		}
		p = p[n:]
	}
	return data, evs, nil
}

func TestTelnetDecode(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		data []byte
		evs  []telnetEvent
		err  error
	}{
		{name: "plain", in: []byte("hello"), data: []byte("hello")},
		{name: "doubled IAC", in: []byte{1, tnIAC, tnIAC, 2}, data: []byte{1, tnIAC, 2}},
		{name: "negotiation", in: []byte{'a', tnIAC, tnWILL, optComPort, 'b'}, data: []byte("ab"),
			evs: []telnetEvent{{cmd: tnWILL, opt: optComPort}}},
		{name: "subnegotiation with doubled IAC", in: []byte{tnIAC, tnSB, optComPort, cpSetBaudRate, 0, 1, tnIAC, tnIAC, 0xC2, tnIAC, tnSE},
			evs: []telnetEvent{{cmd: tnSB, opt: optComPort, sb: []byte{cpSetBaudRate, 0, 1, 0xFF, 0xC2}}}},
		{name: "nop", in: []byte{'x', tnIAC, tnNOP, 'y'}, data: []byte("xy"), evs: []telnetEvent{{cmd: tnNOP}}},
		{name: "SE outside", in: []byte{tnIAC, tnSE}, err: ErrProtocol},
		{name: "IAC x in SB", in: []byte{tnIAC, tnSB, 44, 1, tnIAC, tnNOP}, err: ErrProtocol},
		{name: "long SB", in: append([]byte{tnIAC, tnSB, 44}, make([]byte, maxSubnegotiation+1)...), err: ErrProtocol},
	}
	for _, tt := range tests {
		for _, step := range []int{1, 2, 3, 1 << 20} {
			data, evs, err := decodeAll(t, tt.in, step)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Errorf("%s/step %d: err %v, want %v", tt.name, step, err, tt.err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s/step %d: %v", tt.name, step, err)
			}
			if !bytes.Equal(data, tt.data) {
				t.Errorf("%s/step %d: data %x, want %x", tt.name, step, data, tt.data)
			}
			if len(evs) != len(tt.evs) {
				t.Fatalf("%s/step %d: events %+v, want %+v", tt.name, step, evs, tt.evs)
			}
			for i := range evs {
				if evs[i].cmd != tt.evs[i].cmd || evs[i].opt != tt.evs[i].opt || !bytes.Equal(evs[i].sb, tt.evs[i].sb) {
					t.Errorf("%s/step %d: event %d %+v, want %+v", tt.name, step, i, evs[i], tt.evs[i])
				}
			}
		}
	}
}

// TestNegotiatorNoLoop plays two negotiators against each other and checks
// they settle with the options agreed and no reply left.
func TestNegotiatorNoLoop(t *testing.T) {
	var a, b negotiator
	for _, o := range []byte{optBinary, optSGA, optComPort} {
		a.supported[o], b.supported[o] = true, true
	}
	var toB, toA []byte
	for _, o := range []byte{optBinary, optSGA, optComPort} {
		toB = a.request(toB, true, o)
		toB = a.request(toB, false, o)
		toA = b.request(toA, true, o)
	}
	toB = append(toB, tnIAC, tnDO, optEcho)
	for round := 0; len(toA)+len(toB) > 0; round++ {
		if round > 10 {
			t.Fatal("negotiation loops")
		}
		var nextA, nextB []byte
		for i := 0; i+2 < len(toB)+1 && i < len(toB); i += 3 {
			nextA = b.receive(nextA, toB[i+1], toB[i+2])
		}
		for i := 0; i < len(toA); i += 3 {
			nextB = a.receive(nextB, toA[i+1], toA[i+2])
		}
		toA, toB = nextA, nextB
	}
	for _, o := range []byte{optBinary, optSGA, optComPort} {
		if a.us[o] != optYes || a.him[o] != optYes || b.us[o] != optYes {
			t.Errorf("option %d not agreed: a.us=%d a.him=%d b.us=%d", o, a.us[o], a.him[o], b.us[o])
		}
	}
	if b.us[optEcho] != optNo {
		t.Error("unsupported ECHO was accepted")
	}
}

func TestComPortRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		code  byte
		value uint32
	}{
		{cpSetBaudRate, 0xFFFFFFFF}, {cpSetBaudRate, 115200}, {cpSetDataSize, 7},
		{serverOffset + cpSetControl, ctlDTROff}, {cpPurgeData, purgeBoth}, {cpFlowControlSuspend, 0},
	} {
		wire := appendComPort(nil, tc.code, tc.value)
		_, evs, err := decodeAll(t, wire, 1)
		if err != nil || len(evs) != 1 {
			t.Fatalf("%d: %v %+v", tc.code, err, evs)
		}
		m, err := parseComPort(evs[0].sb)
		if err != nil || m.code != tc.code || m.value != tc.value {
			t.Errorf("round trip of %d=%d gave %+v, %v", tc.code, tc.value, m, err)
		}
	}
}

// FuzzTelnetDecode checks the decoder never panics or grows without bound,
// that input cut anywhere decodes the same, and that escaped data decodes
// back to itself.
func FuzzTelnetDecode(f *testing.F) {
	f.Add([]byte{tnIAC, tnSB, optComPort, cpSetBaudRate, 0, 1, tnIAC, tnIAC, 0, tnIAC, tnSE}, uint8(1))
	f.Add([]byte{tnIAC, tnWILL, optComPort, 'a', tnIAC, tnIAC}, uint8(2))
	f.Add([]byte("plain data"), uint8(3))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		whole, wevs, werr := decodeAll(t, in, len(in)+1)
		cut, cevs, cerr := decodeAll(t, in, int(step)%7+1)
		if (werr == nil) != (cerr == nil) {
			t.Fatalf("error depends on cutting: %v vs %v", werr, cerr)
		}
		if werr == nil && (!bytes.Equal(whole, cut) || len(wevs) != len(cevs)) {
			t.Fatalf("cutting changed the result")
		}
		for _, ev := range wevs {
			if ev.cmd == tnSB {
				// Parsing an arbitrary COM-PORT payload must not panic.
				parseComPort(ev.sb)
			}
		}
		data, _, err := decodeAll(t, appendEscaped(nil, in), int(step)%5+1)
		if err != nil || !bytes.Equal(data, in) {
			t.Fatalf("escape round trip failed: %v", err)
		}
	})
}

// FuzzComPort checks the COM-PORT-OPTION parser on arbitrary payloads and
// that what it accepts re-encodes to the same message.
func FuzzComPort(f *testing.F) {
	f.Add([]byte{cpSetBaudRate, 0, 1, 0xC2, 0})
	f.Add([]byte{serverOffset + cpSetControl, ctlBreakOn})
	f.Add([]byte{cpSignature, 'h', 'i'})
	f.Fuzz(func(t *testing.T, p []byte) {
		m, err := parseComPort(p)
		if err != nil || m.code == cpSignature || m.code == serverOffset+cpSignature {
			return
		}
		if (m.code == cpNotifyModemState || m.code == cpNotifyLineState || m.code == serverOffset+cpNotifyModemState || m.code == serverOffset+cpNotifyLineState) && len(p) == 1 {
			return
		}
		_, evs, derr := decodeAll(t, appendComPort(nil, m.code, m.value), 1)
		if derr != nil || len(evs) != 1 || !bytes.Equal(evs[0].sb, p) {
			t.Fatalf("re-encoding %x gave %+v, %v", p, evs, derr)
		}
	})
}

func TestReasonName(t *testing.T) {
	for err, want := range map[error]string{
		nil: "ok", ErrSlowWatcher: "slow_watcher", errors.New("x"): "error",
		ErrDeviceGone: "device_gone", ErrDenied: "denied",
	} {
		if got := reasonName(err); got != want {
			t.Errorf("reasonName(%v) = %q, want %q", err, got, want)
		}
	}
}

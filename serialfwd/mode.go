package serialfwd

import "fmt"

// Parity is a serial line's parity setting. The values are those of RFC 2217
// SET-PARITY, so that zero means "not set" (keep the current value).
type Parity byte

// Parity values.
const (
	ParityNone  Parity = 1
	ParityOdd   Parity = 2
	ParityEven  Parity = 3
	ParityMark  Parity = 4
	ParitySpace Parity = 5
)

func (p Parity) String() string {
	switch p {
	case ParityNone:
		return "none"
	case ParityOdd:
		return "odd"
	case ParityEven:
		return "even"
	case ParityMark:
		return "mark"
	case ParitySpace:
		return "space"
	}
	return fmt.Sprintf("parity(%d)", byte(p))
}

func (p Parity) valid() bool { return p >= ParityNone && p <= ParitySpace }

// StopBits is a serial line's stop-bit setting, with the values of RFC 2217
// SET-STOPSIZE (note that 1.5 is 3).
type StopBits byte

// StopBits values.
const (
	StopBits1   StopBits = 1
	StopBits2   StopBits = 2
	StopBits1_5 StopBits = 3
)

func (s StopBits) String() string {
	switch s {
	case StopBits1:
		return "1"
	case StopBits2:
		return "2"
	case StopBits1_5:
		return "1.5"
	}
	return fmt.Sprintf("stopbits(%d)", byte(s))
}

func (s StopBits) valid() bool { return s >= StopBits1 && s <= StopBits1_5 }

// FlowControl is a serial line's flow control, with the values of RFC 2217
// SET-CONTROL (outbound/both).
type FlowControl byte

// FlowControl values.
const (
	FlowNone     FlowControl = 1
	FlowXONXOFF  FlowControl = 2
	FlowHardware FlowControl = 3
)

func (f FlowControl) String() string {
	switch f {
	case FlowNone:
		return "none"
	case FlowXONXOFF:
		return "xonxoff"
	case FlowHardware:
		return "rtscts"
	}
	return fmt.Sprintf("flow(%d)", byte(f))
}

func (f FlowControl) valid() bool { return f >= FlowNone && f <= FlowHardware }

// Mode is the line settings of a serial port. A zero field means "unset":
// [Mode.Merge] keeps the other mode's value for it.
type Mode struct {
	BaudRate int         // bits per second, e.g. 115200
	DataBits int         // 5 to 8
	Parity   Parity      // ParityNone etc.
	StopBits StopBits    // StopBits1 etc.
	Flow     FlowControl // FlowNone etc.
}

// DefaultMode is 115200 8N1 without flow control.
var DefaultMode = Mode{BaudRate: 115200, DataBits: 8, Parity: ParityNone, StopBits: StopBits1, Flow: FlowNone}

// Merge returns m with its unset (zero) fields taken from base.
func (m Mode) Merge(base Mode) Mode {
	if m.BaudRate == 0 {
		m.BaudRate = base.BaudRate
	}
	if m.DataBits == 0 {
		m.DataBits = base.DataBits
	}
	if m.Parity == 0 {
		m.Parity = base.Parity
	}
	if m.StopBits == 0 {
		m.StopBits = base.StopBits
	}
	if m.Flow == 0 {
		m.Flow = base.Flow
	}
	return m
}

// Validate reports whether every set field of m is in range.
func (m Mode) Validate() error {
	switch {
	case m.BaudRate < 0:
		return fmt.Errorf("serialfwd: invalid baud rate %d", m.BaudRate)
	case m.DataBits != 0 && (m.DataBits < 5 || m.DataBits > 8):
		return fmt.Errorf("serialfwd: invalid data bits %d", m.DataBits)
	case m.Parity != 0 && !m.Parity.valid():
		return fmt.Errorf("serialfwd: invalid %v", m.Parity)
	case m.StopBits != 0 && !m.StopBits.valid():
		return fmt.Errorf("serialfwd: invalid %v", m.StopBits)
	case m.Flow != 0 && !m.Flow.valid():
		return fmt.Errorf("serialfwd: invalid %v", m.Flow)
	}
	return nil
}

// String formats m the way serial tools do: "115200 8N1 flow=none"; unset
// fields show as "-".
func (m Mode) String() string {
	baud, bits, p, stop, flow := "-", "-", "-", "-", "-"
	if m.BaudRate != 0 {
		baud = fmt.Sprint(m.BaudRate)
	}
	if m.DataBits != 0 {
		bits = fmt.Sprint(m.DataBits)
	}
	switch m.Parity {
	case 0:
	case ParityNone:
		p = "N"
	case ParityOdd:
		p = "O"
	case ParityEven:
		p = "E"
	case ParityMark:
		p = "M"
	case ParitySpace:
		p = "S"
	default:
		p = "?"
	}
	if m.StopBits != 0 {
		stop = m.StopBits.String()
	}
	if m.Flow != 0 {
		flow = m.Flow.String()
	}
	return fmt.Sprintf("%s %s%s%s flow=%s", baud, bits, p, stop, flow)
}

// ModemState is the state of a port's modem lines: the inputs (CTS, DSR,
// RI, DCD) as RFC 2217 NOTIFY-MODEMSTATE reports them, and the outputs
// (DTR, RTS) as last applied.
type ModemState struct {
	CTS, DSR, RI, DCD bool
	DTR, RTS          bool
}

// rfc2217 returns the input lines as the high nibble of an RFC 2217
// modem-state byte.
func (s ModemState) rfc2217() byte {
	var b byte
	if s.CTS {
		b |= modemCTS
	}
	if s.DSR {
		b |= modemDSR
	}
	if s.RI {
		b |= modemRI
	}
	if s.DCD {
		b |= modemDCD
	}
	return b
}

func modemStateFrom(b byte) ModemState {
	return ModemState{CTS: b&modemCTS != 0, DSR: b&modemDSR != 0, RI: b&modemRI != 0, DCD: b&modemDCD != 0}
}

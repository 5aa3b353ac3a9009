package serialfwd

import "fmt"

// ModemLines says how a port answers RFC 2217 requests for its modem output
// lines (DTR, RTS) and its flow control.
//
// Hardware UARTs have the lines, and the answer is what the device applied.
// Many real ports have none: a pty (QEMU's -serial pty, simulators, ports
// made with socat, a chained ser2net), a USB-CDC gadget. On those the
// modem ioctls fail, and a client that sets DTR and RTS when it opens the
// port, as pyserial does by default, would be told its request was refused
// and give up. A virtual port acknowledges such requests instead, remembers
// them and reports the remembered state, as a null-modem cable with the
// lines looped would.
type ModemLines uint8

// ModemLines values.
const (
	// ModemLinesAuto, the zero value, is ModemLinesReal for a device whose
	// modem lines can be read when it opens and ModemLinesVirtual for one
	// whose ModemState fails with ErrUnsupported (a pty).
	ModemLinesAuto ModemLines = iota
	// ModemLinesReal passes DTR, RTS and flow control to the device and
	// answers with what it applied; a refusal is reported to the client.
	ModemLinesReal
	// ModemLinesVirtual never passes DTR or RTS to the device: it
	// acknowledges them and remembers them. Flow control is passed on, and
	// when the device does not take it the requested value is remembered
	// and reported. The modem inputs (CTS, DSR, RI, DCD) read as off.
	ModemLinesVirtual
	// ModemLinesRefuse keeps the lines and the flow control as the device
	// opened: requests to change them are not passed on, and the answer is
	// the state in effect. For devices that a DTR toggle would reset.
	ModemLinesRefuse
)

var modemLinesNames = [...]string{"auto", "real", "virtual", "refuse"}

func (m ModemLines) String() string {
	if int(m) < len(modemLinesNames) {
		return modemLinesNames[m]
	}
	return fmt.Sprintf("modemlines(%d)", byte(m))
}

// ParseModemLines parses auto, real, virtual or refuse; the empty string is
// auto.
func ParseModemLines(s string) (ModemLines, error) {
	if s == "" {
		return ModemLinesAuto, nil
	}
	for i, n := range modemLinesNames {
		if s == n {
			return ModemLines(i), nil
		}
	}
	return 0, fmt.Errorf("serialfwd: unknown modem line mode %q (want auto, real, virtual or refuse)", s)
}

func (m ModemLines) valid() bool { return int(m) < len(modemLinesNames) }

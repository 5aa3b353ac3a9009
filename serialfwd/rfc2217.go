package serialfwd

import (
	"encoding/binary"
	"fmt"
)

// RFC 2217 COM-PORT-OPTION commands, client to server. The server answers
// with the same code plus serverOffset.
const (
	cpSignature          = 0
	cpSetBaudRate        = 1
	cpSetDataSize        = 2
	cpSetParity          = 3
	cpSetStopSize        = 4
	cpSetControl         = 5
	cpNotifyLineState    = 6
	cpNotifyModemState   = 7
	cpFlowControlSuspend = 8
	cpFlowControlResume  = 9
	cpSetLineStateMask   = 10
	cpSetModemStateMask  = 11
	cpPurgeData          = 12

	serverOffset = 100
)

// SET-CONTROL values.
const (
	ctlFlowRequest     = 0
	ctlFlowNone        = 1
	ctlFlowXONXOFF     = 2
	ctlFlowHardware    = 3
	ctlBreakRequest    = 4
	ctlBreakOn         = 5
	ctlBreakOff        = 6
	ctlDTRRequest      = 7
	ctlDTROn           = 8
	ctlDTROff          = 9
	ctlRTSRequest      = 10
	ctlRTSOn           = 11
	ctlRTSOff          = 12
	ctlInFlowRequest   = 13
	ctlInFlowNone      = 14
	ctlInFlowXONXOFF   = 15
	ctlInFlowHardware  = 16
	ctlFlowDCD         = 17
	ctlInFlowDTR       = 18
	ctlFlowDSR         = 19
	ctlFlowInboundBase = ctlInFlowNone - ctlFlowNone
)

// Modem-state bits of NOTIFY-MODEMSTATE.
const (
	modemDCD       = 0x80
	modemRI        = 0x40
	modemDSR       = 0x20
	modemCTS       = 0x10
	modemDeltaDCD  = 0x08
	modemTrailRI   = 0x04
	modemDeltaDSR  = 0x02
	modemDeltaCTS  = 0x01
	modemInputMask = 0xF0
)

// PURGE-DATA values.
const (
	purgeReceive  = 1
	purgeTransmit = 2
	purgeBoth     = 3
)

// A comPortMsg is one decoded COM-PORT-OPTION subnegotiation.
type comPortMsg struct {
	code  byte   // cpSetBaudRate etc., plus serverOffset when sent by a server
	value uint32 // the numeric argument; 0 when absent
	text  []byte // cpSignature's text
}

// parseComPort decodes the payload of IAC SB 44 ... IAC SE (after the
// option byte, IAC IAC already undoubled).
func parseComPort(p []byte) (comPortMsg, error) {
	if len(p) == 0 {
		return comPortMsg{}, fmt.Errorf("%w: empty COM-PORT-OPTION", ErrProtocol)
	}
	m := comPortMsg{code: p[0]}
	arg := p[1:]
	base := m.code
	if base >= serverOffset {
		base -= serverOffset
	}
	switch base {
	case cpSignature:
		m.text = arg
		return m, nil
	case cpSetBaudRate:
		if len(arg) != 4 {
			return m, fmt.Errorf("%w: SET-BAUDRATE with %d bytes", ErrProtocol, len(arg))
		}
		m.value = binary.BigEndian.Uint32(arg)
		return m, nil
	case cpFlowControlSuspend, cpFlowControlResume:
		if len(arg) != 0 {
			return m, fmt.Errorf("%w: flow-control command %d with %d bytes", ErrProtocol, base, len(arg))
		}
		return m, nil
	case cpSetDataSize, cpSetParity, cpSetStopSize, cpSetControl, cpNotifyLineState,
		cpNotifyModemState, cpSetLineStateMask, cpSetModemStateMask, cpPurgeData:
		// pyserial sends NOTIFY-MODEMSTATE without a value as a poll.
		if base == cpNotifyModemState || base == cpNotifyLineState {
			if len(arg) == 0 {
				return m, nil
			}
		}
		if len(arg) != 1 {
			return m, fmt.Errorf("%w: COM-PORT-OPTION %d with %d bytes", ErrProtocol, m.code, len(arg))
		}
		m.value = uint32(arg[0])
		return m, nil
	}
	return m, fmt.Errorf("%w: unknown COM-PORT-OPTION command %d", ErrProtocol, m.code)
}

// appendComPort appends a complete IAC SB 44 code value IAC SE.
func appendComPort(dst []byte, code byte, value uint32) []byte {
	var payload [5]byte
	payload[0] = code
	base := code
	if base >= serverOffset {
		base -= serverOffset
	}
	if base == cpSetBaudRate {
		binary.BigEndian.PutUint32(payload[1:], value)
		return appendSubnegotiation(dst, optComPort, payload[:5])
	}
	if base == cpFlowControlSuspend || base == cpFlowControlResume {
		return appendSubnegotiation(dst, optComPort, payload[:1])
	}
	payload[1] = byte(value)
	return appendSubnegotiation(dst, optComPort, payload[:2])
}

// appendSignature appends a SIGNATURE subnegotiation with text.
func appendSignature(dst []byte, code byte, text string) []byte {
	payload := append([]byte{code}, text...)
	return appendSubnegotiation(dst, optComPort, payload)
}

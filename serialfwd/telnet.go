package serialfwd

import (
	"bytes"
	"fmt"
)

// Telnet commands (RFC 854) and the options this package negotiates
// (RFC 856 BINARY, RFC 858 SGA, RFC 2217 COM-PORT-OPTION).
const (
	tnSE   = 240
	tnNOP  = 241
	tnBRK  = 243
	tnSB   = 250
	tnWILL = 251
	tnWONT = 252
	tnDO   = 253
	tnDONT = 254
	tnIAC  = 255

	optBinary  = 0
	optEcho    = 1
	optSGA     = 3
	optComPort = 44
)

// maxSubnegotiation bounds a subnegotiation's payload. RFC 2217's longest
// is a signature text; anything longer is refused rather than buffered.
const maxSubnegotiation = 512

// A telnetEvent is one telnet command found in the byte stream.
type telnetEvent struct {
	cmd byte   // tnWILL, tnWONT, tnDO, tnDONT, tnSB, or another command byte
	opt byte   // the option of WILL/WONT/DO/DONT and SB
	sb  []byte // SB payload after the option, IAC IAC undoubled; valid during the callback only
}

type decoderState uint8

const (
	stData decoderState = iota
	stIAC
	stOption
	stSB
	stSBIAC
)

// telnetDecoder splits a telnet byte stream into data and commands. Its
// state carries over between calls, so input may be cut anywhere. The zero
// value is ready to use. It is not safe for concurrent use.
type telnetDecoder struct {
	state decoderState
	cmd   byte
	sb    []byte
}

// decode processes p. Data runs are passed to onData in order, as
// sub-slices of p where possible (valid only during the call); commands go
// to onCmd between the runs they separate, so the order of data and
// commands is kept. An error from a callback stops decoding and is
// returned; malformed input returns an error wrapping ErrProtocol.
func (d *telnetDecoder) decode(p []byte, onData func([]byte) error, onCmd func(telnetEvent) error) error {
	start := -1 // start of the current data run in p, or -1
	flush := func(end int) error {
		if start >= 0 && end > start {
			if err := onData(p[start:end]); err != nil {
				return err
			}
		}
		start = -1
		return nil
	}
	for i := 0; i < len(p); i++ {
		b := p[i]
		switch d.state {
		case stData:
			if b == tnIAC {
				if err := flush(i); err != nil {
					return err
				}
				d.state = stIAC
				continue
			}
			if start < 0 {
				start = i
			}
			// Fast path: take the whole run up to the next IAC at once.
			j := bytes.IndexByte(p[i:], tnIAC)
			if j < 0 {
				i = len(p) - 1
			} else {
				i += j - 1
			}
		case stIAC:
			switch b {
			case tnIAC:
				start = i // the second 0xFF is the data byte
				d.state = stData
			case tnWILL, tnWONT, tnDO, tnDONT:
				d.cmd = b
				d.state = stOption
			case tnSB:
				d.cmd = tnSB
				d.sb = d.sb[:0]
				d.state = stOption
			case tnSE:
				return fmt.Errorf("%w: IAC SE outside a subnegotiation", ErrProtocol)
			default:
				d.state = stData
				if err := onCmd(telnetEvent{cmd: b}); err != nil {
					return err
				}
			}
		case stOption:
			if d.cmd == tnSB {
				d.sb = append(d.sb[:0], b)
				d.state = stSB
				continue
			}
			d.state = stData
			if err := onCmd(telnetEvent{cmd: d.cmd, opt: b}); err != nil {
				return err
			}
		case stSB:
			if b == tnIAC {
				d.state = stSBIAC
				continue
			}
			if len(d.sb) >= maxSubnegotiation {
				return fmt.Errorf("%w: subnegotiation longer than %d bytes", ErrProtocol, maxSubnegotiation)
			}
			d.sb = append(d.sb, b)
		case stSBIAC:
			switch b {
			case tnIAC:
				if len(d.sb) >= maxSubnegotiation {
					return fmt.Errorf("%w: subnegotiation longer than %d bytes", ErrProtocol, maxSubnegotiation)
				}
				d.sb = append(d.sb, tnIAC)
				d.state = stSB
			case tnSE:
				d.state = stData
				if err := onCmd(telnetEvent{cmd: tnSB, opt: d.sb[0], sb: d.sb[1:]}); err != nil {
					return err
				}
			default:
				return fmt.Errorf("%w: IAC %d inside a subnegotiation", ErrProtocol, b)
			}
		}
	}
	return flush(len(p))
}

// appendEscaped appends p to dst with every 0xFF doubled (RFC 854).
func appendEscaped(dst, p []byte) []byte {
	for {
		i := bytes.IndexByte(p, tnIAC)
		if i < 0 {
			return append(dst, p...)
		}
		dst = append(dst, p[:i+1]...)
		dst = append(dst, tnIAC)
		p = p[i+1:]
	}
}

// appendSubnegotiation appends IAC SB opt payload IAC SE, doubling 0xFF in
// the payload.
func appendSubnegotiation(dst []byte, opt byte, payload []byte) []byte {
	dst = append(dst, tnIAC, tnSB, opt)
	dst = appendEscaped(dst, payload)
	return append(dst, tnIAC, tnSE)
}

// optionState is one side of one option in the RFC 1143 "Q method",
// without the queue bits: a request is never re-sent while pending.
type optionState uint8

const (
	optNo optionState = iota
	optYes
	optWantYes
	optWantNo
)

// negotiator tracks telnet options for both sides and produces the replies
// RFC 1143 prescribes, so that negotiation never loops. "us" is what this
// end performs (WILL/WONT, answered by DO/DONT); "him" is what the peer
// performs.
type negotiator struct {
	supported [256]bool // options we accept on either side
	us, him   [256]optionState
}

// request asks for opt on our side (WILL) or the peer's (DO).
func (n *negotiator) request(dst []byte, ours bool, opt byte) []byte {
	if ours {
		if n.us[opt] == optNo {
			n.us[opt] = optWantYes
			dst = append(dst, tnIAC, tnWILL, opt)
		}
		return dst
	}
	if n.him[opt] == optNo {
		n.him[opt] = optWantYes
		dst = append(dst, tnIAC, tnDO, opt)
	}
	return dst
}

// receive handles WILL/WONT/DO/DONT opt and appends any reply to dst.
func (n *negotiator) receive(dst []byte, cmd, opt byte) []byte {
	switch cmd {
	case tnWILL:
		return n.agree(dst, &n.him[opt], opt, true, tnDO, tnDONT)
	case tnWONT:
		return n.agree(dst, &n.him[opt], opt, false, tnDO, tnDONT)
	case tnDO:
		return n.agree(dst, &n.us[opt], opt, true, tnWILL, tnWONT)
	case tnDONT:
		return n.agree(dst, &n.us[opt], opt, false, tnWILL, tnWONT)
	}
	return dst
}

func (n *negotiator) agree(dst []byte, s *optionState, opt byte, yes bool, ack, nak byte) []byte {
	if yes {
		switch *s {
		case optNo:
			if n.supported[opt] {
				*s = optYes
				return append(dst, tnIAC, ack, opt)
			}
			return append(dst, tnIAC, nak, opt)
		case optWantYes:
			*s = optYes
		case optWantNo:
			// The peer answered our retraction with agreement: RFC 1143
			// calls this an error; settle on "no" without another reply.
			*s = optNo
		}
		return dst
	}
	switch *s {
	case optYes:
		*s = optNo
		return append(dst, tnIAC, nak, opt)
	case optWantYes, optWantNo:
		*s = optNo
	}
	return dst
}

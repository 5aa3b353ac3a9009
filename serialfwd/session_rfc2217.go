package serialfwd

// The RFC 2217 side of a server session: telnet negotiation and the
// COM-PORT-OPTION commands. Every SET command is answered with the value in
// effect after the device tried to apply it, so a client sees a refusal as a
// different value (pyserial then reports "remote rejected value").

// command handles one telnet command from the client; replies go to s.out.
func (s *session) command(ev telnetEvent) error {
	switch ev.cmd {
	case tnWILL, tnWONT, tnDO, tnDONT:
		s.out = s.neg.receive(s.out, ev.cmd, ev.opt)
		if ev.opt == optComPort && (ev.cmd == tnWILL || ev.cmd == tnDO) && !s.comPort.Swap(true) {
			// Tell the client the modem lines at once, as pyserial expects
			// before its first status query.
			_, _, m := s.p.control(s, nil)
			s.out = appendComPort(s.out, serverOffset+cpNotifyModemState, uint32(m.rfc2217()&byte(s.modemMask.Load())))
		}
	case tnSB:
		if ev.opt != optComPort {
			return nil // an option we refused: ignore its subnegotiation
		}
		msg, err := parseComPort(ev.sb)
		if err != nil {
			// Malformed settings must not end a console session; say so
			// in the log and carry on.
			s.p.srv.log.Debug("ignoring malformed COM-PORT-OPTION", "session", s.info.ID, "err", err)
			return nil
		}
		s.comPortCommand(msg)
	}
	// NOP, AYT, BRK and the other commands carry nothing for a serial
	// line and are ignored.
	return nil
}

func (s *session) comPortCommand(msg comPortMsg) {
	p := s.p
	reply := func(code byte, v uint32) { s.out = appendComPort(s.out, serverOffset+code, v) }
	v := msg.value
	switch msg.code {
	case cpSignature:
		if len(msg.text) == 0 {
			s.out = appendSignature(s.out, serverOffset+cpSignature, p.srv.opts.Signature)
		} else {
			p.srv.log.Debug("client signature", "session", s.info.ID, "signature", string(msg.text))
		}
	case cpSetBaudRate:
		m := p.currentMode(s)
		if v != 0 && v <= 1<<31-1 {
			m = p.setMode(s, Mode{BaudRate: int(v)})
		}
		reply(cpSetBaudRate, uint32(m.BaudRate))
	case cpSetDataSize:
		m := p.currentMode(s)
		if v >= 5 && v <= 8 {
			m = p.setMode(s, Mode{DataBits: int(v)})
		}
		reply(cpSetDataSize, uint32(m.DataBits))
	case cpSetParity:
		m := p.currentMode(s)
		if Parity(v).valid() {
			m = p.setMode(s, Mode{Parity: Parity(v)})
		}
		reply(cpSetParity, uint32(m.Parity))
	case cpSetStopSize:
		m := p.currentMode(s)
		if StopBits(v).valid() {
			m = p.setMode(s, Mode{StopBits: StopBits(v)})
		}
		reply(cpSetStopSize, uint32(m.StopBits))
	case cpSetControl:
		reply(cpSetControl, uint32(s.setControl(byte(v))))
	case cpNotifyLineState:
		// No line-state source: report an empty line state through the mask.
		reply(cpNotifyLineState, 0)
	case cpNotifyModemState:
		_, _, m := p.control(s, nil)
		reply(cpNotifyModemState, uint32(m.rfc2217()&byte(s.modemMask.Load())))
	case cpFlowControlSuspend:
		s.setSuspended(true)
	case cpFlowControlResume:
		s.setSuspended(false)
	case cpSetLineStateMask:
		s.lineMask.Store(v)
		reply(cpSetLineStateMask, v)
	case cpSetModemStateMask:
		s.modemMask.Store(v)
		reply(cpSetModemStateMask, v)
	case cpPurgeData:
		switch v {
		case purgeReceive:
			s.drainQueue()
			p.purge(s, true, false)
		case purgeTransmit:
			p.purge(s, false, true)
		case purgeBoth:
			s.drainQueue()
			p.purge(s, true, true)
		default:
			return // not a purge request: nothing done, nothing to confirm
		}
		reply(cpPurgeData, v)
	default:
		// Server-to-client codes sent by a confused client: ignore.
	}
}

func (p *port) currentMode(s *session) Mode {
	m, _, _ := p.control(s, nil)
	return m
}

// setControl applies a SET-CONTROL value and returns the answer code.
func (s *session) setControl(v byte) byte {
	p := s.p
	onOff := func(on bool, yes, no byte) byte {
		if on {
			return yes
		}
		return no
	}
	switch v {
	case ctlFlowRequest:
		return byte(p.currentMode(s).Flow)
	case ctlFlowNone, ctlFlowXONXOFF, ctlFlowHardware:
		return byte(p.setMode(s, Mode{Flow: FlowControl(v)}).Flow)
	case ctlInFlowRequest:
		return byte(p.currentMode(s).Flow) + ctlFlowInboundBase
	case ctlInFlowNone, ctlInFlowXONXOFF, ctlInFlowHardware:
		// Linux ties both directions together: the inbound request sets both.
		return byte(p.setMode(s, Mode{Flow: FlowControl(v - ctlFlowInboundBase)}).Flow) + ctlFlowInboundBase
	case ctlBreakRequest:
		_, brk, _ := p.control(s, nil)
		return onOff(brk, ctlBreakOn, ctlBreakOff)
	case ctlBreakOn, ctlBreakOff:
		return onOff(p.setBreak(s, v == ctlBreakOn), ctlBreakOn, ctlBreakOff)
	case ctlDTRRequest:
		_, _, m := p.control(s, nil)
		return onOff(m.DTR, ctlDTROn, ctlDTROff)
	case ctlDTROn, ctlDTROff:
		return onOff(p.setDTR(s, v == ctlDTROn), ctlDTROn, ctlDTROff)
	case ctlRTSRequest:
		_, _, m := p.control(s, nil)
		return onOff(m.RTS, ctlRTSOn, ctlRTSOff)
	case ctlRTSOn, ctlRTSOff:
		return onOff(p.setRTS(s, v == ctlRTSOn), ctlRTSOn, ctlRTSOff)
	case ctlInFlowDTR:
		return byte(p.currentMode(s).Flow) + ctlFlowInboundBase
	default:
		// DCD and DSR flow control, and unknown values: not available;
		// answer with the outbound flow control in effect.
		return byte(p.currentMode(s).Flow)
	}
}

// notifyModem sends NOTIFY-MODEMSTATE after the input lines changed.
func (s *session) notifyModem(old, st ModemState) {
	if !s.comPort.Load() {
		return
	}
	o, n := old.rfc2217(), st.rfc2217()
	v := n
	d := o ^ n
	if d&modemCTS != 0 {
		v |= modemDeltaCTS
	}
	if d&modemDSR != 0 {
		v |= modemDeltaDSR
	}
	if d&modemDCD != 0 {
		v |= modemDeltaDCD
	}
	if o&modemRI != 0 && n&modemRI == 0 {
		v |= modemTrailRI
	}
	v &= byte(s.modemMask.Load())
	if v == 0 {
		return
	}
	s.send(appendComPort(nil, serverOffset+cpNotifyModemState, uint32(v)))
}

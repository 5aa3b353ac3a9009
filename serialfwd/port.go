package serialfwd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// port is one shared serial port: the device (opened on demand), its
// sessions, and the goroutines that read the device and poll its modem lines.
type port struct {
	srv *Server
	cfg PortConfig

	// writeMu serialises writes to the device so that the writer's bytes are
	// never interleaved (a kicked writer may still be finishing a write).
	writeMu sync.Mutex

	mu       sync.Mutex // guards the fields below
	dev      Device     // nil while closed
	devDone  chan struct{}
	devStop  context.CancelFunc
	mode     Mode
	brk      bool
	modem    ModemState
	lines    ModemLines  // in effect for the open device: never Auto
	flow     FlowControl // virtual lines: the flow control last asked for; 0 if none
	sessions map[*session]struct{}
	writer   *session
	closed   bool
	devLoop  bool // the device goroutine is the device loop (direct_linux.go)

	// direct is the writer whose connection the device loop serves itself;
	// nil if none.
	direct atomic.Pointer[session]

	wakeMu   sync.Mutex // guards loopWake, so that it is never written once closed
	loopWake int        // eventfd that wakes the device loop; -1 if none

	devWG sync.WaitGroup // device goroutines, also those of a device that failed
}

func newPort(s *Server, cfg PortConfig) *port {
	return &port{srv: s, cfg: cfg, sessions: map[*session]struct{}{}, loopWake: -1}
}

// serve runs one session on c.
func (p *port) serve(ctx context.Context, c net.Conn, info SessionInfo) error {
	s := newSession(p, c, info)
	if err := p.attach(ctx, s); err != nil {
		c.Close()
		p.srv.log.Info("connection refused", "port", p.cfg.Name, "principal", info.Principal, "remote", info.Remote, "err", err)
		return err
	}
	p.srv.log.Info("session started", "port", p.cfg.Name, "session", info.ID, "principal", info.Principal,
		"remote", info.Remote, "protocol", info.Protocol, "role", s.info.Role)
	err := s.run(ctx)
	p.detach(s)
	p.srv.log.Info("session ended", "port", p.cfg.Name, "session", info.ID, "reason", err)
	return err
}

// attach admits s according to the access mode, opening the device for the
// first session.
func (p *port) attach(ctx context.Context, s *session) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	var kick *session
	switch p.cfg.Access {
	case AccessExclusive:
		if p.writer != nil {
			return fmt.Errorf("%w: %s is in use", ErrPortBusy, p.cfg.Name)
		}
	case AccessExclusiveKick:
		kick = p.writer
	case AccessShared:
		if p.writer != nil {
			s.info.Role = RoleWatcher
		}
	}
	if p.dev == nil {
		if err := p.openLocked(ctx); err != nil {
			return err
		}
	}
	if kick != nil {
		kick.stop(ErrKicked)
		delete(p.sessions, kick)
	}
	if s.info.Role == RoleWriter {
		p.writer = s
	}
	s.attrs = newSessionAttrs(s.info)
	p.sessions[s] = struct{}{}
	return nil
}

// detach removes s and closes the device after the last session.
func (p *port) detach(s *session) {
	p.mu.Lock()
	delete(p.sessions, s)
	if p.writer == s {
		p.writer = nil
	}
	p.direct.CompareAndSwap(s, nil)
	var done chan struct{}
	if len(p.sessions) == 0 && p.dev != nil {
		done = p.closeDeviceLocked()
	}
	p.mu.Unlock()
	if done != nil {
		<-done
	}
}

// openLocked opens the device, applies the configured mode and starts the
// device goroutines. p.mu must be held.
func (p *port) openLocked(ctx context.Context) error {
	dev, err := p.cfg.Open(ctx)
	if err != nil {
		if errors.Is(err, ErrDeviceUnavailable) {
			return err
		}
		return fmt.Errorf("%w: %s: %w", ErrDeviceUnavailable, p.cfg.Name, err)
	}
	mode, err := dev.SetMode(p.cfg.Mode)
	if err != nil {
		p.srv.log.Warn("device refused part of the configured mode", "port", p.cfg.Name, "want", p.cfg.Mode, "got", mode, "err", err)
	}
	if mode.BaudRate == 0 {
		mode = p.cfg.Mode.Merge(DefaultMode)
	}
	p.dev, p.mode, p.brk, p.flow = dev, mode, false, 0
	var merr error
	p.modem, merr = dev.ModemState()
	p.lines = p.cfg.ModemLines
	if p.lines == ModemLinesAuto {
		p.lines = ModemLinesReal
		if errors.Is(merr, ErrUnsupported) {
			p.lines = ModemLinesVirtual
		}
	}
	if p.lines == ModemLinesVirtual {
		p.modem = ModemState{}
	}
	devCtx, stop := context.WithCancel(context.Background())
	p.devStop = stop
	p.devDone = make(chan struct{})
	p.devWG.Add(1)
	p.devLoop = p.startDeviceLoop(devCtx, dev, p.devDone)
	p.srv.log.Info("device opened", "port", p.cfg.Name, "mode", mode, "modem_lines", p.lines)
	return nil
}

// closeDeviceLocked closes the device and returns a channel closed when its
// goroutines have stopped. p.mu must be held.
func (p *port) closeDeviceLocked() chan struct{} {
	p.devStop()
	p.dev.Close()
	p.dev = nil
	return p.devDone
}

// readDevice copies device input to the sessions until the device fails or
// closes, and polls the modem lines alongside.
func (p *port) readDevice(ctx context.Context, dev Device, done chan struct{}) {
	defer p.devWG.Done()
	defer close(done)
	defer p.startModemPoll(ctx, dev)()
	buf := make([]byte, 32<<10)
	var targets []*session
	for {
		n, err := dev.Read(buf)
		if n > 0 {
			p.mu.Lock()
			targets = targets[:0]
			for s := range p.sessions {
				targets = append(targets, s)
			}
			p.mu.Unlock()
			// Watchers get a copy through their queue; the writer gets
			// the bytes written straight from here, saving a goroutine
			// hand-off per read (latency) and holding the device back
			// while its connection is slow (flow control).
			var chunk []byte
			for _, s := range targets {
				if s.info.Role == RoleWatcher {
					if chunk == nil {
						chunk = make([]byte, n)
						copy(chunk, buf[:n])
					}
					s.deliver(ctx, chunk)
				}
			}
			for _, s := range targets {
				if s.info.Role == RoleWriter {
					s.writeDirect(buf[:n])
				}
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				p.deviceGone(dev, err)
			}
			return
		}
	}
}

// startModemPoll starts polling the modem lines, if configured, and returns
// a function that waits until the polling has stopped (after ctx ends).
func (p *port) startModemPoll(ctx context.Context, dev Device) (wait func()) {
	var wg sync.WaitGroup
	if p.cfg.ModemPoll > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.pollModem(ctx, dev)
		}()
	}
	return wg.Wait
}

// deviceGone ends every session of a failed device and closes it; the next
// connection opens the device again.
func (p *port) deviceGone(dev Device, cause error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dev != dev {
		return
	}
	p.srv.log.Warn("device gone", "port", p.cfg.Name, "err", cause)
	p.devStop()
	dev.Close()
	p.dev = nil
	reason := fmt.Errorf("%w: %s: %w", ErrDeviceGone, p.cfg.Name, cause)
	for s := range p.sessions {
		s.stop(reason)
	}
}

// pollModem sends NOTIFY-MODEMSTATE to the sessions when the input lines
// change.
func (p *port) pollModem(ctx context.Context, dev Device) {
	t := time.NewTicker(p.cfg.ModemPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := dev.ModemState()
		if err != nil {
			return // no modem lines (a pty): nothing will change
		}
		p.mu.Lock()
		if p.dev != dev || p.lines == ModemLinesVirtual {
			p.mu.Unlock()
			return // the inputs of virtual lines read as off
		}
		old := p.modem
		p.modem = st
		var targets []*session
		if old.rfc2217() != st.rfc2217() {
			for s := range p.sessions {
				targets = append(targets, s)
			}
		}
		p.mu.Unlock()
		for _, s := range targets {
			s.notifyModem(old, st)
		}
	}
}

// write sends the writer's data to the device.
func (p *port) write(s *session, data []byte) error {
	p.mu.Lock()
	dev := p.dev
	ok := p.writer == s && dev != nil
	p.mu.Unlock()
	if !ok {
		return nil // a watcher, or a kicked writer: drop
	}
	p.writeMu.Lock()
	err := writeFull(dev, data)
	p.writeMu.Unlock()
	if err != nil {
		p.deviceGone(dev, err)
		return fmt.Errorf("%w: %s: %w", ErrDeviceGone, p.cfg.Name, err)
	}
	return nil
}

// control runs f on the device if s is the writer, and returns the port's
// state afterwards; for a watcher it only returns the state.
func (p *port) control(s *session, f func(dev Device) error) (Mode, bool, ModemState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dev != nil && p.writer == s && f != nil {
		if err := f(p.dev); err != nil {
			p.srv.log.Debug("device refused a setting", "port", p.cfg.Name, "session", s.info.ID, "err", err)
		}
	}
	return p.mode, p.brk, p.modem
}

// setMode applies m for the writer and returns the mode in effect. Flow
// control follows the port's ModemLines.
func (p *port) setMode(s *session, m Mode) Mode {
	mode, _, _ := p.control(s, func(dev Device) error {
		if m.Flow != 0 && p.lines == ModemLinesRefuse {
			m.Flow = 0
		}
		got, err := dev.SetMode(m)
		if got.BaudRate != 0 {
			p.mode = got
		}
		if p.lines == ModemLinesVirtual {
			if m.Flow != 0 {
				p.flow = m.Flow
			}
			if p.flow != 0 {
				p.mode.Flow = p.flow
				if m.Flow != 0 && got.Flow != m.Flow {
					err = nil // remembered, not refused
				}
			}
		}
		return err
	})
	return mode
}

func (p *port) setBreak(s *session, on bool) bool {
	_, brk, _ := p.control(s, func(dev Device) error {
		got, err := dev.SetBreak(on)
		p.brk = got
		return err
	})
	return brk
}

// setDTR and setRTS set a modem output line for the writer, as the port's
// ModemLines says, and return the line's state afterwards.
func (p *port) setDTR(s *session, on bool) bool {
	_, _, m := p.control(s, func(dev Device) error {
		return p.setLineLocked(on, &p.modem.DTR, dev.SetDTR)
	})
	return m.DTR
}

func (p *port) setRTS(s *session, on bool) bool {
	_, _, m := p.control(s, func(dev Device) error {
		return p.setLineLocked(on, &p.modem.RTS, dev.SetRTS)
	})
	return m.RTS
}

func (p *port) setLineLocked(on bool, state *bool, set func(bool) (bool, error)) error {
	switch p.lines {
	case ModemLinesVirtual:
		*state = on
		return nil
	case ModemLinesRefuse:
		return nil
	}
	got, err := set(on)
	*state = got
	return err
}

func (p *port) purge(s *session, input, output bool) {
	p.control(s, func(dev Device) error { return dev.Purge(input, output) })
}

func (p *port) status() PortStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PortStatus{Name: p.cfg.Name, Open: p.dev != nil, Mode: p.mode, Sessions: len(p.sessions)}
}

// close ends every session and closes the device.
func (p *port) close() {
	p.mu.Lock()
	p.closed = true
	for s := range p.sessions {
		s.stop(ErrClosed)
	}
	p.mu.Unlock()
	// Sessions detach themselves; the last one closes the device. Wait for
	// that so that Close returns with no goroutine left.
	for {
		p.mu.Lock()
		n := len(p.sessions)
		var done chan struct{}
		if n == 0 && p.dev != nil {
			done = p.closeDeviceLocked()
		}
		p.mu.Unlock()
		if done != nil {
			<-done
		}
		if n == 0 {
			p.devWG.Wait()
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

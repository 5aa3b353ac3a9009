//go:build linux

package serialfwd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"go.bug.st/serial"
	"golang.org/x/sys/unix"
)

// serialDevice is a Device backed by go.bug.st/serial, which opens the port,
// takes exclusive access (TIOCEXCL) and sets the line. go.bug.st/serial has
// no break-on/break-off, flow-control setting or settings read-back, so the
// device also holds a second descriptor on the same tty ("ctl"), opened
// before go.bug.st/serial takes exclusive access, for those termios and
// modem ioctls: they act on the tty, whichever descriptor carries them.
type serialDevice struct {
	path string
	port serial.Port
	// data carries the bytes: a ttyIO or an *os.File on a duplicate of
	// ctl (then also dataFD), or else port.
	data   io.ReadWriter
	dataFD io.Closer

	mu       sync.Mutex // guards the fields below and serialises control ioctls
	ctl      int        // -1 once closed
	brk      bool
	dtr, rts bool
}

var _ Device = (*serialDevice)(nil)

// OpenSerial opens the serial port at path (a /dev/tty* node, a pty, or a
// symlink to one) with go.bug.st/serial and applies mode (zero fields take
// [DefaultMode]'s values). The returned Device reports the settings the
// kernel actually holds after each change.
func OpenSerial(path string, mode Mode) (Device, error) {
	return openSerial(path, mode, true)
}

// openSerial is OpenSerial; ownThread false keeps the device on the
// runtime's poller even when a thread for it is available (the far ends of
// test and benchmark pty pairs, which are not what is being measured).
func openSerial(path string, mode Mode, ownThread bool) (Device, error) {
	mode = mode.Merge(DefaultMode)
	if err := mode.Validate(); err != nil {
		return nil, err
	}
	ctl, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("serialfwd: open %s: %w: %w", path, ErrDeviceUnavailable, err)
	}
	if _, err := unix.IoctlGetTermios(ctl, unix.TCGETS); err != nil {
		unix.Close(ctl)
		return nil, fmt.Errorf("serialfwd: %s is not a tty: %w: %w", path, ErrDeviceUnavailable, err)
	}
	port, err := serial.Open(path, toBugst(mode))
	if err != nil {
		unix.Close(ctl)
		return nil, fmt.Errorf("serialfwd: open %s: %w: %w", path, ErrDeviceUnavailable, err)
	}
	d := &serialDevice{path: path, port: port, ctl: ctl}
	// Data goes through a duplicate of ctl rather than go.bug.st/serial's
	// blocking select+read, so that Close still unblocks a pending Read
	// or Write: with poll(2) and an eventfd on a thread of its own (see
	// ttyIO), the shortest round trip, while the program can afford the
	// thread; else through the runtime's poller, which costs no thread.
	d.data = port
	if fd, err := unix.Dup(ctl); err == nil {
		var tio *ttyIO
		if ownThread {
			tio = newTTYIO(fd)
		}
		if tio != nil {
			d.data, d.dataFD = tio, tio
		} else {
			f := os.NewFile(uintptr(fd), path)
			d.data, d.dataFD = f, f
		}
	}
	// The modem outputs start as the tty has them; a pty has none, and
	// reports both as off.
	if bits, err := unix.IoctlGetInt(ctl, unix.TIOCMGET); err == nil {
		d.dtr = bits&unix.TIOCM_DTR != 0
		d.rts = bits&unix.TIOCM_RTS != 0
	}
	if _, err := d.SetMode(Mode{Flow: mode.Flow}); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// SerialOpener returns an Opener for [OpenSerial]; use it in [PortConfig].
func SerialOpener(path string, mode Mode) Opener {
	return func(context.Context) (Device, error) { return OpenSerial(path, mode) }
}

func toBugst(m Mode) *serial.Mode {
	sm := &serial.Mode{BaudRate: m.BaudRate, DataBits: m.DataBits}
	switch m.Parity {
	case ParityOdd:
		sm.Parity = serial.OddParity
	case ParityEven:
		sm.Parity = serial.EvenParity
	case ParityMark:
		sm.Parity = serial.MarkParity
	case ParitySpace:
		sm.Parity = serial.SpaceParity
	default:
		sm.Parity = serial.NoParity
	}
	switch m.StopBits {
	case StopBits2:
		sm.StopBits = serial.TwoStopBits
	case StopBits1_5:
		sm.StopBits = serial.OnePointFiveStopBits
	default:
		sm.StopBits = serial.OneStopBit
	}
	return sm
}

func (d *serialDevice) Read(p []byte) (int, error) {
	n, err := d.data.Read(p)
	if err != nil {
		return n, fmt.Errorf("serialfwd: read %s: %w", d.path, err)
	}
	return n, nil
}

func (d *serialDevice) Write(p []byte) (int, error) {
	n, err := d.data.Write(p)
	if err != nil {
		return n, fmt.Errorf("serialfwd: write %s: %w", d.path, err)
	}
	return n, nil
}

// Close closes the port; a blocked Read returns. Safe to call twice.
func (d *serialDevice) Close() error {
	d.mu.Lock()
	ctl := d.ctl
	d.ctl = -1
	d.mu.Unlock()
	if ctl < 0 {
		return nil
	}
	if d.dataFD != nil {
		d.dataFD.Close()
	}
	err := d.port.Close()
	unix.Close(ctl)
	return err
}

// SetMode applies m and reads the settings back from the kernel.
func (d *serialDevice) SetMode(m Mode) (Mode, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctl < 0 {
		return Mode{}, ErrClosed
	}
	cur, err := d.readModeLocked()
	if err != nil {
		return cur, err
	}
	want := m.Merge(cur)
	if err := want.Validate(); err != nil {
		return cur, err
	}
	var errs []error
	if want.BaudRate != cur.BaudRate || want.DataBits != cur.DataBits || want.Parity != cur.Parity || want.StopBits != cur.StopBits {
		if err := d.port.SetMode(toBugst(want)); err != nil {
			errs = append(errs, fmt.Errorf("serialfwd: set mode %v on %s: %w", want, d.path, err))
		}
	}
	if want.Flow != cur.Flow {
		if err := d.setFlowLocked(want.Flow); err != nil {
			errs = append(errs, err)
		}
	}
	got, err := d.readModeLocked()
	if err != nil {
		errs = append(errs, err)
	}
	return got, errors.Join(errs...)
}

// setFlowLocked sets CRTSCTS or IXON/IXOFF. d.mu must be held.
func (d *serialDevice) setFlowLocked(f FlowControl) error {
	t, err := unix.IoctlGetTermios(d.ctl, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("serialfwd: get termios %s: %w", d.path, err)
	}
	t.Cflag &^= unix.CRTSCTS
	t.Iflag &^= unix.IXON | unix.IXOFF | unix.IXANY
	switch f {
	case FlowHardware:
		t.Cflag |= unix.CRTSCTS
	case FlowXONXOFF:
		t.Iflag |= unix.IXON | unix.IXOFF
	}
	if err := unix.IoctlSetTermios(d.ctl, unix.TCSETS, t); err != nil {
		return fmt.Errorf("serialfwd: set flow control %v on %s: %w", f, d.path, err)
	}
	return nil
}

// readModeLocked decodes the tty's termios. d.mu must be held.
func (d *serialDevice) readModeLocked() (Mode, error) {
	t, err := unix.IoctlGetTermios(d.ctl, unix.TCGETS2)
	if err != nil {
		return Mode{}, fmt.Errorf("serialfwd: get termios %s: %w", d.path, err)
	}
	return modeFromTermios(t), nil
}

// modeFromTermios decodes line settings from a termios read with TCGETS2.
func modeFromTermios(t *unix.Termios) Mode {
	var m Mode
	m.BaudRate = int(t.Ospeed)
	if m.BaudRate == 0 || t.Cflag&unix.CBAUD != unix.BOTHER {
		if r, ok := baudRates[t.Cflag&unix.CBAUD]; ok {
			m.BaudRate = r
		}
	}
	switch t.Cflag & unix.CSIZE {
	case unix.CS5:
		m.DataBits = 5
	case unix.CS6:
		m.DataBits = 6
	case unix.CS7:
		m.DataBits = 7
	default:
		m.DataBits = 8
	}
	switch {
	case t.Cflag&unix.PARENB == 0:
		m.Parity = ParityNone
	case t.Cflag&unix.CMSPAR != 0 && t.Cflag&unix.PARODD != 0:
		m.Parity = ParityMark
	case t.Cflag&unix.CMSPAR != 0:
		m.Parity = ParitySpace
	case t.Cflag&unix.PARODD != 0:
		m.Parity = ParityOdd
	default:
		m.Parity = ParityEven
	}
	m.StopBits = StopBits1
	if t.Cflag&unix.CSTOPB != 0 {
		m.StopBits = StopBits2
	}
	switch {
	case t.Cflag&unix.CRTSCTS != 0:
		m.Flow = FlowHardware
	case t.Iflag&(unix.IXON|unix.IXOFF) != 0:
		m.Flow = FlowXONXOFF
	default:
		m.Flow = FlowNone
	}
	return m
}

// setTermiosSpeed sets a termios (for TCSETS2) to rate, with a standard
// Bnnn code where one exists so that every tool shows it.
func setTermiosSpeed(t *unix.Termios, rate int) {
	t.Cflag &^= unix.CBAUD
	code := uint32(unix.BOTHER)
	for c, r := range baudRates {
		if r == rate {
			code = c
			break
		}
	}
	t.Cflag |= code
	t.Ispeed, t.Ospeed = uint32(rate), uint32(rate)
}

var baudRates = map[uint32]int{
	unix.B50: 50, unix.B75: 75, unix.B110: 110, unix.B134: 134, unix.B150: 150,
	unix.B200: 200, unix.B300: 300, unix.B600: 600, unix.B1200: 1200, unix.B1800: 1800,
	unix.B2400: 2400, unix.B4800: 4800, unix.B9600: 9600, unix.B19200: 19200,
	unix.B38400: 38400, unix.B57600: 57600, unix.B115200: 115200, unix.B230400: 230400,
	unix.B460800: 460800, unix.B500000: 500000, unix.B576000: 576000, unix.B921600: 921600,
	unix.B1000000: 1000000, unix.B1152000: 1152000, unix.B1500000: 1500000,
	unix.B2000000: 2000000, unix.B2500000: 2500000, unix.B3000000: 3000000,
	unix.B3500000: 3500000, unix.B4000000: 4000000,
}

// SetBreak sets or clears the break condition with TIOCSBRK/TIOCCBRK.
func (d *serialDevice) SetBreak(on bool) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctl < 0 {
		return d.brk, ErrClosed
	}
	req := uint(unix.TIOCCBRK)
	if on {
		req = unix.TIOCSBRK
	}
	if err := unix.IoctlSetInt(d.ctl, req, 0); err != nil {
		return d.brk, fmt.Errorf("serialfwd: set break %v on %s: %w", on, d.path, err)
	}
	d.brk = on
	return d.brk, nil
}

func (d *serialDevice) SetDTR(on bool) (bool, error) {
	return d.setModemLine(unix.TIOCM_DTR, on, &d.dtr)
}

func (d *serialDevice) SetRTS(on bool) (bool, error) {
	return d.setModemLine(unix.TIOCM_RTS, on, &d.rts)
}

// setModemLine sets one modem output and returns the line's state
// afterwards; on a tty that has no modem lines (a pty) the ioctl fails and
// the state stays as it was.
func (d *serialDevice) setModemLine(bit int, on bool, state *bool) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctl < 0 {
		return *state, ErrClosed
	}
	req := uint(unix.TIOCMBIC)
	if on {
		req = unix.TIOCMBIS
	}
	if err := unix.IoctlSetPointerInt(d.ctl, req, bit); err != nil {
		return *state, fmt.Errorf("serialfwd: set modem line on %s: %w: %w", d.path, ErrUnsupported, err)
	}
	if bits, err := unix.IoctlGetInt(d.ctl, unix.TIOCMGET); err == nil {
		*state = bits&bit != 0
	} else {
		*state = on
	}
	return *state, nil
}

// ModemState reads the modem lines with TIOCMGET.
func (d *serialDevice) ModemState() (ModemState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctl < 0 {
		return ModemState{}, ErrClosed
	}
	bits, err := unix.IoctlGetInt(d.ctl, unix.TIOCMGET)
	if err != nil {
		return ModemState{DTR: d.dtr, RTS: d.rts}, fmt.Errorf("serialfwd: modem lines of %s: %w: %w", d.path, ErrUnsupported, err)
	}
	return ModemState{
		CTS: bits&unix.TIOCM_CTS != 0, DSR: bits&unix.TIOCM_DSR != 0,
		RI: bits&unix.TIOCM_RI != 0, DCD: bits&unix.TIOCM_CD != 0,
		DTR: bits&unix.TIOCM_DTR != 0, RTS: bits&unix.TIOCM_RTS != 0,
	}, nil
}

// Purge flushes the kernel's input and/or output queue.
func (d *serialDevice) Purge(input, output bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctl < 0 {
		return ErrClosed
	}
	var q int
	switch {
	case input && output:
		q = unix.TCIOFLUSH
	case input:
		q = unix.TCIFLUSH
	case output:
		q = unix.TCOFLUSH
	default:
		return nil
	}
	if err := unix.IoctlSetInt(d.ctl, unix.TCFLSH, q); err != nil {
		return fmt.Errorf("serialfwd: purge %s: %w", d.path, err)
	}
	return nil
}

//go:build linux

package serialfwd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Remote is the far end of a Bridge; *Client satisfies it.
type Remote interface {
	io.ReadWriteCloser
	// SetMode changes the remote line settings and returns those in effect.
	SetMode(ctx context.Context, m Mode) (Mode, error)
}

var _ Remote = (*Client)(nil)

// BridgeOptions configures a Bridge. A nil *BridgeOptions is valid: all
// defaults. The Bridge never modifies it.
type BridgeOptions struct {
	// Link, when set, is a symlink created to the pty (for example
	// /tmp/ttyPLC1) so that programs can be configured with a stable name.
	// An existing symlink there is replaced; any other file is an error.
	// Removed on Close.
	Link string

	// Mode is set on the pty at start, so programs that do not configure
	// the line see the remote's settings. Default: the Remote's current mode
	// if it is a *Client that knows it, else 115200 8N1.
	Mode Mode

	// PollInterval is how often the pty's settings are checked for changes
	// made by the program. Default 50ms.
	PollInterval time.Duration

	// Logger receives bridge events. Default: discard.
	Logger *slog.Logger
}

// Bridge is a local virtual serial port (a Unix 98 pty) connected to a
// remote port, so that unmodified programs (minicom, picocom, vendor tools)
// can open it. Bytes flow both ways unchanged; baud rate, stop bits and flow
// control the program sets on the pty are sent to the remote port. Linux
// forces every pty to 8 data bits without parity, so those two, like break
// and DTR/RTS, cannot be seen on the pty and are not propagated.
//
// Path and Link are fixed for the Bridge's life. Close is safe to call more
// than once and waits for the Bridge's goroutines.
type Bridge struct {
	remote Remote
	opts   BridgeOptions
	log    *slog.Logger

	mfd    int      // master, for termios ioctls
	master *os.File // the same master, pollable, for data
	slave  *os.File // held open so that the master never reads EIO
	path   string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}

	mu     sync.Mutex
	err    error
	closed bool
}

// NewBridge creates a pty connected to remote and starts copying. The
// Bridge owns remote and closes it on Close.
func NewBridge(ctx context.Context, remote Remote, opts *BridgeOptions) (*Bridge, error) {
	b := &Bridge{remote: remote, done: make(chan struct{})}
	if opts != nil {
		b.opts = *opts
	}
	if b.opts.PollInterval <= 0 {
		b.opts.PollInterval = 50 * time.Millisecond
	}
	b.log = b.opts.Logger
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if err := b.openPty(); err != nil {
		return nil, err
	}
	mode := b.opts.Mode
	if c, ok := remote.(*Client); ok && mode == (Mode{}) {
		if m, err := c.RemoteMode(ctx); err == nil {
			mode = m
		}
	}
	mode = mode.Merge(DefaultMode)
	if err := b.setPtyMode(mode); err != nil {
		b.closePty()
		return nil, err
	}
	if b.opts.Link != "" {
		if fi, err := os.Lstat(b.opts.Link); err == nil {
			if fi.Mode()&os.ModeSymlink == 0 {
				b.closePty()
				return nil, fmt.Errorf("serialfwd: %s exists and is not a symlink", b.opts.Link)
			}
			os.Remove(b.opts.Link)
		}
		if err := os.Symlink(b.path, b.opts.Link); err != nil {
			b.closePty()
			return nil, fmt.Errorf("serialfwd: link %s: %w", b.opts.Link, err)
		}
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.wg.Add(3)
	go b.toRemote()
	go b.fromRemote()
	go b.watchMode(mode)
	go func() {
		b.wg.Wait()
		close(b.done)
	}()
	return b, nil
}

func (b *Bridge) openPty() error {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("serialfwd: open /dev/ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(mfd)
		return fmt.Errorf("serialfwd: unlock pty: %w", err)
	}
	n, err := unix.IoctlGetUint32(mfd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(mfd)
		return fmt.Errorf("serialfwd: pty number: %w", err)
	}
	b.path = fmt.Sprintf("/dev/pts/%d", n)
	sfd, err := unix.Open(b.path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(mfd)
		return fmt.Errorf("serialfwd: open %s: %w", b.path, err)
	}
	b.mfd = mfd
	b.master = os.NewFile(uintptr(mfd), "/dev/ptmx")
	b.slave = os.NewFile(uintptr(sfd), b.path)
	return nil
}

func (b *Bridge) closePty() {
	b.master.Close()
	b.slave.Close()
}

// setPtyMode puts the pty in raw mode with m's settings.
func (b *Bridge) setPtyMode(m Mode) error {
	t, err := unix.IoctlGetTermios(b.mfd, unix.TCGETS2)
	if err != nil {
		return fmt.Errorf("serialfwd: pty termios: %w", err)
	}
	// cfmakeraw
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CBAUD | unix.CSTOPB | unix.CRTSCTS
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL
	setTermiosSpeed(t, m.BaudRate)
	if m.StopBits == StopBits2 {
		t.Cflag |= unix.CSTOPB
	}
	switch m.Flow {
	case FlowHardware:
		t.Cflag |= unix.CRTSCTS
	case FlowXONXOFF:
		t.Iflag |= unix.IXON | unix.IXOFF
	}
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(b.mfd, unix.TCSETS2, t); err != nil {
		return fmt.Errorf("serialfwd: set pty termios: %w", err)
	}
	return nil
}

// Path returns the pty's device path, such as /dev/pts/7.
func (b *Bridge) Path() string { return b.path }

// Link returns BridgeOptions.Link.
func (b *Bridge) Link() string { return b.opts.Link }

// Done is closed when the bridge stopped: the remote ended or Close was
// called. Err then says why.
func (b *Bridge) Done() <-chan struct{} { return b.done }

// Err returns why the bridge stopped, or nil while it runs or after Close.
func (b *Bridge) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// fail records the first reason the bridge stopped and stops it.
func (b *Bridge) fail(err error) {
	b.mu.Lock()
	if b.err == nil && !b.closed {
		b.err = err
		b.log.Info("bridge stopped", "pty", b.path, "err", err)
	}
	b.mu.Unlock()
	b.cancel()
	b.remote.Close()
	// Stop the pty reader too, so that Done closes; the slave stays open
	// until Close so programs see a quiet line rather than a hang-up.
	b.master.Close()
}

// Close stops the bridge, closes the remote and the pty, and removes the
// link. Safe to call more than once.
func (b *Bridge) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		<-b.done
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	b.remote.Close()
	b.closePty()
	<-b.done
	if b.opts.Link != "" {
		if target, err := os.Readlink(b.opts.Link); err == nil && target == b.path {
			os.Remove(b.opts.Link)
		}
	}
	return nil
}

func (b *Bridge) toRemote() {
	defer b.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := b.master.Read(buf)
		if n > 0 {
			if _, werr := b.remote.Write(buf[:n]); werr != nil {
				b.fail(fmt.Errorf("serialfwd: write remote: %w", werr))
				return
			}
		}
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			// EIO cannot happen while we hold the slave open; anything
			// else means the pty is unusable.
			b.fail(fmt.Errorf("serialfwd: read pty: %w", err))
			return
		}
	}
}

func (b *Bridge) fromRemote() {
	defer b.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := b.remote.Read(buf)
		if n > 0 {
			if werr := writeFull(b.master, buf[:n]); werr != nil {
				if !errors.Is(werr, os.ErrClosed) {
					b.fail(fmt.Errorf("serialfwd: write pty: %w", werr))
				}
				return
			}
		}
		if err != nil {
			if b.ctx.Err() == nil {
				b.fail(fmt.Errorf("serialfwd: remote: %w", err))
			}
			return
		}
	}
}

// watchMode propagates line settings the program makes on the pty.
func (b *Bridge) watchMode(last Mode) {
	defer b.wg.Done()
	t := time.NewTicker(b.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		tio, err := unix.IoctlGetTermios(b.mfd, unix.TCGETS2)
		if err != nil {
			return // the pty closed
		}
		m := modeFromTermios(tio)
		// The pty always reads back 8N: those fields carry no information.
		m.DataBits, m.Parity = 0, 0
		var diff Mode
		if m.BaudRate != last.BaudRate && m.BaudRate > 0 {
			diff.BaudRate = m.BaudRate
		}
		if m.StopBits != last.StopBits {
			diff.StopBits = m.StopBits
		}
		if m.Flow != last.Flow {
			diff.Flow = m.Flow
		}
		if diff == (Mode{}) {
			continue
		}
		last.BaudRate, last.StopBits, last.Flow = m.BaudRate, m.StopBits, m.Flow
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		got, err := b.remote.SetMode(ctx, diff)
		cancel()
		b.log.Info("line settings propagated", "pty", b.path, "set", diff, "remote", got, "err", err)
	}
}

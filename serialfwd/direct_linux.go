//go:build linux

package serialfwd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// The device loop. When a port's device is a tty read through a ttyIO, one
// goroutine serves the tty and the writer's connection together, as a C
// event loop does: it waits in poll(2) on both descriptors (and on an
// eventfd that wakes it when the sessions change) and forwards each way
// inline, with no hand-off between goroutines or threads. A round trip
// then wakes one thread twice (once per direction), where reading the
// socket through the runtime's poller woke a thread in epoll_wait, handed
// the goroutine over, and often woke a second thread to look for work.
//
// Neither side ever blocks the other: a write that would block leaves its
// rest pending, and the loop then stops reading the side that feeds it
// (flow control) until poll(2) says the blocked side takes bytes again.
// Pending bytes are bounded: at most one read of the tty (escaped) plus
// control replies towards the network, at most one read of the socket
// towards the tty.
//
// Watchers, and a writer whose connection is not a plain TCP or Unix socket
// (a tunnel's net.Conn, TLS), are served as on the other platforms:
// watchers through their queues, such a writer by its own goroutine
// reading the connection.

// maxNetPending bounds the control replies that may pile up towards a
// client that does not read: past it the loop stops reading the client.
const maxNetPending = 64 << 10

// ttyOf returns the ttyIO that carries dev's data, or nil.
func ttyOf(dev Device) *ttyIO {
	d, ok := dev.(*serialDevice)
	if !ok {
		return nil
	}
	t, _ := d.data.(*ttyIO)
	return t
}

// startDeviceLoop starts the goroutine that reads dev: the device loop for
// a tty with a ttyIO (and then reports true), else readDevice. p.mu must be
// held; p.devWG has been added to.
func (p *port) startDeviceLoop(ctx context.Context, dev Device, done chan struct{}) bool {
	tio := ttyOf(dev)
	if tio == nil {
		go p.readDevice(ctx, dev, done)
		return false
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		go p.readDevice(ctx, dev, done)
		return false
	}
	p.wakeMu.Lock()
	p.loopWake = wake
	p.wakeMu.Unlock()
	go p.serveTTY(ctx, dev, tio, wake, done)
	return true
}

// wakeLoop makes the device loop look at its sessions again.
func (p *port) wakeLoop() {
	p.wakeMu.Lock()
	defer p.wakeMu.Unlock()
	if p.loopWake >= 0 {
		var one [8]byte
		one[0] = 1
		unix.Write(p.loopWake, one[:])
	}
}

// serveTTY runs the device loop until the device fails or closes.
func (p *port) serveTTY(ctx context.Context, dev Device, tio *ttyIO, wake int, done chan struct{}) {
	// Keep the loop on one thread. Unlocked, the periodic yield (see
	// yieldSometimes) often moved it to the thread that the yield woke,
	// and the round trips that met such a move made a visibly longer tail
	// (p99 1.3–4.5× that of the locked loop, measured side by side).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer p.devWG.Done()
	defer close(done)
	defer func() {
		p.wakeMu.Lock()
		if p.loopWake == wake {
			p.loopWake = -1
		}
		unix.Close(wake)
		p.wakeMu.Unlock()
	}()
	defer p.startModemPoll(ctx, dev)()
	l := &ttyLoop{
		p: p, ctx: ctx, dev: dev, tio: tio, name: dev.(*serialDevice).path, wake: wake,
		buf: make([]byte, 32<<10), nbuf: make([]byte, 32<<10),
	}
	err := l.run()
	if ctx.Err() == nil {
		p.deviceGone(dev, err)
	}
}

// ttyLoop is the state of one device loop.
type ttyLoop struct {
	p    *port
	ctx  context.Context
	dev  Device
	tio  *ttyIO
	name string // the device's path, for errors
	wake int    // eventfd written by wakeLoop

	buf     []byte // tty reads
	nbuf    []byte // socket reads
	targets []*session
	ttyHot  bool // the last tty read was large: read again before polling
	sockHot bool // the same for the socket
}

// run serves the device until it fails or closes, and returns why.
func (l *ttyLoop) run() error {
	var fds [4]unix.PollFd
	for {
		cur := l.p.direct.Load()
		if cur != nil && cur.stopped() {
			cur = nil
		}
		if cur != nil && cur.eof && len(cur.toDev) == 0 {
			cur.stop(nil) // the client closed and all it sent is on the tty
			continue
		}
		netPending := 0
		if cur != nil {
			netPending = cur.netPendingLen()
		}
		ttyIn := cur == nil || (netPending == 0 && !cur.isSuspended())
		var ttyEv, sockEv int16
		if ttyIn {
			ttyEv |= unix.POLLIN
		}
		if cur != nil {
			if len(cur.toDev) > 0 {
				ttyEv |= unix.POLLOUT
			} else if !cur.eof && netPending < maxNetPending {
				sockEv |= unix.POLLIN
			}
			if netPending > 0 {
				sockEv |= unix.POLLOUT
			}
		}

		// After a large read more is probably queued: try it before
		// polling, as ttyIO.Read does.
		if l.ttyHot && ttyIn {
			got, err := l.readTTY(cur)
			if err != nil {
				return err
			}
			if got {
				continue
			}
		}
		if l.sockHot && sockEv&unix.POLLIN != 0 {
			if l.readSock(cur) {
				continue
			}
		}

		fds[2] = unix.PollFd{Fd: int32(l.wake), Events: unix.POLLIN}
		l.tio.yieldSometimes()
		if sockEv != 0 {
			if !cur.sock.acquire() {
				cur.stop(net.ErrClosed) // the session is ending already
				continue
			}
			fds[3] = unix.PollFd{Fd: int32(cur.sock.fd), Events: sockEv}
			err := l.tio.poll(fds[:4], ttyEv)
			cur.sock.release()
			if err != nil {
				return err
			}
		} else {
			fds[3].Revents = 0
			if err := l.tio.poll(fds[:3], ttyEv); err != nil {
				return err
			}
		}

		if fds[2].Revents != 0 {
			var b [8]byte
			unix.Read(l.wake, b[:])
		}
		const broken = unix.POLLHUP | unix.POLLERR
		if fds[0].Revents&(unix.POLLIN|broken) != 0 && (ttyIn || fds[0].Revents&broken != 0) {
			if _, err := l.readTTY(cur); err != nil {
				return err
			}
		}
		if cur == nil {
			continue
		}
		if fds[0].Revents&unix.POLLOUT != 0 && len(cur.toDev) > 0 {
			l.flushDev(cur)
		}
		if fds[3].Revents&(unix.POLLOUT|broken) != 0 && netPending > 0 {
			cur.flushNet()
		}
		if fds[3].Revents&(unix.POLLIN|unix.POLLRDHUP|broken) != 0 && !cur.eof {
			l.readSock(cur)
		}
	}
}

// readTTY reads the tty once and forwards what it got; got is false if
// there was nothing to read.
func (l *ttyLoop) readTTY(cur *session) (got bool, err error) {
	n, err := l.tio.readNB(l.buf)
	switch {
	case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
		l.ttyHot = false
		return false, nil
	case err != nil:
		return false, fmt.Errorf("serialfwd: read %s: %w", l.name, err)
	case n == 0:
		return false, io.EOF
	}
	l.ttyHot = n >= readFirstAfter
	data := l.buf[:n]
	p := l.p
	p.mu.Lock()
	l.targets = l.targets[:0]
	for s := range p.sessions {
		l.targets = append(l.targets, s)
	}
	p.mu.Unlock()
	var chunk []byte
	for _, s := range l.targets {
		if s.info.Role == RoleWatcher {
			if chunk == nil {
				chunk = make([]byte, n)
				copy(chunk, data)
			}
			s.deliver(l.ctx, chunk)
		}
	}
	for _, s := range l.targets {
		if s.info.Role != RoleWriter {
			continue
		}
		if s == cur {
			s.netFromDevice(data)
		} else {
			s.writeDirect(data)
		}
	}
	return true, nil
}

// readSock reads the client once and passes what it got to the session;
// got is false if there was nothing to read.
func (l *ttyLoop) readSock(s *session) (got bool) {
	n, err := s.sock.read(l.nbuf)
	switch {
	case errors.Is(err, net.ErrClosed):
		s.stop(err) // the session is ending already
		return false
	case errors.Is(err, unix.EAGAIN):
		l.sockHot = false
		return false
	case err != nil:
		s.stop(&net.OpError{Op: "read", Net: "tcp", Source: s.conn.LocalAddr(), Addr: s.info.Remote, Err: os.NewSyscallError("read", err)})
		return false
	case n == 0:
		s.eof = true
		return true
	}
	l.sockHot = n >= readFirstAfter
	s.touch()
	if err := s.input(l.nbuf[:n]); err != nil {
		s.stop(err)
		return true
	}
	if len(s.toDev) > 0 {
		l.flushDev(s)
	}
	return true
}

// flushDev writes what it can of the session's pending bytes to the tty
// without blocking.
func (l *ttyLoop) flushDev(s *session) {
	p := l.p
	p.mu.Lock()
	ok := p.writer == s && p.dev == l.dev
	p.mu.Unlock()
	if !ok {
		s.toDev = s.toDev[:0] // kicked: drop, as port.write does
		return
	}
	p.writeMu.Lock()
	n, err := l.tio.writeNB(s.toDev)
	p.writeMu.Unlock()
	s.toDev = s.toDev[:copy(s.toDev, s.toDev[n:])]
	if err != nil {
		p.deviceGone(l.dev, err)
		s.stop(fmt.Errorf("%w: %s: %w", ErrDeviceGone, p.cfg.Name, err))
	}
}

// startDirect hands the session's connection over to the device loop if
// it can serve it: the session is the writer, the device has a loop, and
// the connection is a plain TCP or Unix socket. (Not any syscall.Conn: a
// wrapper that embeds one, to meter, compress or encrypt, would be
// bypassed.) The session's reader must not touch its input state
// afterwards.
func (s *session) startDirect() bool {
	if s.info.Role != RoleWriter {
		return false
	}
	var sc syscall.Conn
	switch c := s.conn.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc = c
	default:
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	p := s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.writer != s || p.dev == nil || !p.devLoop {
		return false
	}
	// Take the socket out of the runtime's poller: keep a duplicate and
	// close the original, which deregisters it. Else every segment that
	// arrives would also wake a thread waiting in epoll_wait, for nothing.
	fd := -1
	cerr := raw.Control(func(sfd uintptr) {
		fd, err = unix.FcntlInt(sfd, unix.F_DUPFD_CLOEXEC, 0)
	})
	if cerr != nil || err != nil {
		return false
	}
	sock := &sockFD{fd: fd}
	s.wmu.Lock()
	s.sock = sock
	s.wmu.Unlock()
	if s.stopped() {
		sock.Close() // stop may have missed it
		return false
	}
	s.conn.Close()
	s.looped = true
	p.direct.Store(s)
	p.wakeLoop()
	return true
}

// sockFD is a socket descriptor that the device loop owns, outside the
// runtime's poller.
type sockFD struct {
	fd int
	// inflight lets Close wait until no call still uses the descriptor
	// before closing it (a closed number can be reused at once).
	inflight sync.RWMutex
	closed   atomic.Bool
}

// acquire keeps the descriptor open until release; false once Close has
// begun.
func (f *sockFD) acquire() bool {
	f.inflight.RLock()
	if f.closed.Load() {
		f.inflight.RUnlock()
		return false
	}
	return true
}

func (f *sockFD) release() { f.inflight.RUnlock() }

// read reads once without waiting; unix.EAGAIN means nothing was there.
func (f *sockFD) read(p []byte) (int, error) {
	if !f.acquire() {
		return 0, net.ErrClosed
	}
	defer f.release()
	for {
		n, err := unix.Read(f.fd, p)
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}

// write writes as much of b as the socket takes now.
func (f *sockFD) write(b []byte) (int, error) {
	if !f.acquire() {
		return 0, net.ErrClosed
	}
	defer f.release()
	written := 0
	for written < len(b) {
		n, err := unix.Write(f.fd, b[written:])
		if n > 0 {
			written += n
		}
		switch {
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN):
			return written, nil
		case err != nil:
			return written, os.NewSyscallError("write", err)
		case n == 0:
			return written, io.ErrShortWrite
		}
	}
	return written, nil
}

// Close waits until no call uses the descriptor and closes it; whoever may
// be polling it must have been woken first. Safe to call twice.
func (f *sockFD) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	f.inflight.Lock()
	defer f.inflight.Unlock()
	return unix.Close(f.fd)
}

// netFromDevice forwards device data to the client without blocking; what
// the socket does not take stays pending.
func (s *session) netFromDevice(data []byte) {
	s.touch()
	if l := s.p.cfg.SessionLog; l != nil {
		l.Log(s.info, FromDevice, data)
	}
	s.p.srv.metrics.bytes.Add(context.Background(), int64(len(data)), s.attrs.fromDevice...)
	s.wmu.Lock()
	var err error
	if s.info.Protocol == ProtocolRaw {
		err = s.writeNetLocked(data)
	} else {
		s.wbuf = appendEscaped(s.wbuf[:0], data)
		err = s.writeNetLocked(s.wbuf)
	}
	s.wmu.Unlock()
	if err != nil {
		s.stop(nil)
	}
}

// writeNetLocked writes b to the connection of a session the device loop
// serves, without blocking: what the socket does not take is kept, after
// anything already pending, for the loop to write when poll(2) says it
// can. s.wmu must be held.
func (s *session) writeNetLocked(b []byte) error {
	if len(s.netPending) == 0 {
		n, err := s.sock.write(b)
		if err != nil {
			return err
		}
		b = b[n:]
	}
	s.netPending = append(s.netPending, b...)
	return nil
}

// flushNet writes what it can of the pending bytes towards the client.
func (s *session) flushNet() {
	s.wmu.Lock()
	n, err := s.sock.write(s.netPending)
	s.netPending = s.netPending[:copy(s.netPending, s.netPending[n:])]
	s.wmu.Unlock()
	if err != nil {
		s.stop(nil)
	}
}

func (s *session) netPendingLen() int {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return len(s.netPending)
}

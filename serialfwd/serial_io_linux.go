//go:build linux

package serialfwd

import (
	"errors"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// ttyIO moves the data of a serial device with plain system calls on a
// non-blocking descriptor that the runtime's poller does not watch: Read
// waits in poll(2) on the tty and on an eventfd that Close signals, then
// reads once; Write writes and waits in poll(2) only while the tty's output
// queue is full.
//
// This is what keeps a round trip short. Through the runtime's poller every
// device read cost a wake-up of the thread in epoll_wait, a hand-off to the
// reading goroutine (often a futex to wake another thread), and a read that
// fails with EAGAIN before the goroutine parks again; here the device reader
// sleeps in the kernel and runs again on the same thread as soon as the tty
// has data: poll, read, then the network write, as a C event loop does. The
// price is one thread per open device blocked in poll(2) while the device
// is quiet (a device is open only while sessions are attached), and a
// bounded number of them: see newTTYIO.
type ttyIO struct {
	fd   int // the tty, O_NONBLOCK
	wake int // eventfd: readable once Close has begun

	// inflight lets Close wait until no Read or Write still uses the
	// descriptors before it closes them (a closed number can be reused at
	// once by another open).
	inflight sync.RWMutex
	closed   atomic.Bool
	counted  bool // counted in ttyIOInUse

	lastYield atomic.Int64 // unix nanoseconds; see yieldSometimes
	lastRead  atomic.Int32 // bytes the last read returned, up to readFirstAfter
}

// readFirstAfter is the size of a read after which Read tries the next read
// before polling.
const readFirstAfter = 1024

// ttyIOInUse counts the open ttyIOs; see newTTYIO.
var ttyIOInUse atomic.Int32

// newTTYIO returns a ttyIO on fd, which must be O_NONBLOCK and which it then
// owns, or nil if the program already has as many as it can afford. A
// thread blocked in poll(2) keeps its P (the runtime's right to run Go
// code) until the system monitor takes it back, so at most GOMAXPROCS-1
// devices wait that way and one P always stays free for the rest of the
// program; the caller reads any further device through the runtime's
// poller.
func newTTYIO(fd int) *ttyIO {
	limit := int32(runtime.GOMAXPROCS(0) - 1)
	for {
		n := ttyIOInUse.Load()
		if n >= limit {
			return nil
		}
		if ttyIOInUse.CompareAndSwap(n, n+1) {
			break
		}
	}
	t, err := openTTYIO(fd)
	if err != nil {
		ttyIOInUse.Add(-1)
		return nil
	}
	t.counted = true
	return t
}

// openTTYIO returns a ttyIO on fd, which must be O_NONBLOCK and which it
// then owns, outside the count that newTTYIO keeps.
func openTTYIO(fd int) (*ttyIO, error) {
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, err
	}
	return &ttyIO{fd: fd, wake: wake}, nil
}

// errTTYClosed is what Read and Write return once Close has begun.
var errTTYClosed = os.ErrClosed

func (t *ttyIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	t.inflight.RLock()
	defer t.inflight.RUnlock()
	t.yieldSometimes()
	// After a large read more is probably queued (a stream): read first
	// and poll only if that finds nothing. After a small one (a reply, a
	// keystroke) the queue is probably empty: poll first, which saves the
	// read that would fail.
	pollFirst := t.lastRead.Load() < readFirstAfter
	var fds [2]unix.PollFd
	for {
		if pollFirst {
			if err := t.pollLocked(fds[:], unix.POLLIN); err != nil {
				return 0, err
			}
		}
		pollFirst = true
		n, err := unix.Read(t.fd, p)
		switch {
		case err == nil && n > 0:
			t.lastRead.Store(int32(min(n, readFirstAfter)))
			return n, nil
		case err == nil:
			return 0, io.EOF
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			continue // nothing yet, another reader took the data, or a signal
		default:
			return 0, err
		}
	}
}

// yieldInterval is how often a busy reader passes through the scheduler.
const yieldInterval = 5 * time.Millisecond

// yieldSometimes passes through the scheduler every yieldInterval. A reader
// that never parks never counts as rescheduled, and the runtime's system
// monitor then takes its P away during poll(2) every 10 ms (as if it ran
// too long without a preemption point), which wakes another thread and
// puts the monitor back to waking every 20 µs: that cost more CPU than the
// rest of a round trip.
func (t *ttyIO) yieldSometimes() {
	now := time.Now().UnixNano()
	if last := t.lastYield.Load(); now-last < int64(yieldInterval) {
		return
	}
	t.lastYield.Store(now)
	runtime.Gosched()
}

func (t *ttyIO) Write(p []byte) (int, error) {
	t.inflight.RLock()
	defer t.inflight.RUnlock()
	var fds []unix.PollFd
	written := 0
	for {
		n, full, err := t.writeAvail(p[written:])
		written += n
		if err != nil || !full {
			return written, err
		}
		// The output queue is full (flow control, or a slow line):
		// wait until it drains or Close begins.
		if fds == nil {
			fds = []unix.PollFd{{Fd: int32(t.fd), Events: unix.POLLOUT}, {Fd: int32(t.wake), Events: unix.POLLIN}}
		}
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil && !errors.Is(err, unix.EINTR) {
			return written, err
		}
		if fds[1].Revents != 0 || fds[0].Revents&unix.POLLNVAL != 0 {
			return written, errTTYClosed
		}
	}
}

// writeAvail writes as much of p as the tty's output queue takes now;
// full says the queue refused the rest. The caller holds inflight.
func (t *ttyIO) writeAvail(p []byte) (written int, full bool, err error) {
	for written < len(p) {
		if t.closed.Load() {
			return written, false, errTTYClosed
		}
		n, err := unix.Write(t.fd, p[written:])
		if n > 0 {
			written += n
		}
		switch {
		case err == nil, errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN):
			return written, true, nil
		default:
			return written, false, err
		}
	}
	return written, false, nil
}

// Close wakes a pending Read or Write, waits for them to return and closes
// the descriptors. Safe to call twice.
func (t *ttyIO) Close() error {
	if t.closed.Swap(true) {
		return nil
	}
	var one [8]byte
	one[0] = 1 // eventfd counters are host-endian; any non-zero value wakes
	unix.Write(t.wake, one[:])
	t.inflight.Lock()
	defer t.inflight.Unlock()
	err := unix.Close(t.fd)
	unix.Close(t.wake)
	if t.counted {
		ttyIOInUse.Add(-1)
	}
	return err
}

// poll waits in poll(2) until one of fds is ready. It fills fds[0] with the
// tty (for ttyEvents) and fds[1] with the eventfd that Close signals; the
// caller fills the rest. It returns errTTYClosed once Close has begun.
func (t *ttyIO) poll(fds []unix.PollFd, ttyEvents int16) error {
	t.inflight.RLock()
	defer t.inflight.RUnlock()
	return t.pollLocked(fds, ttyEvents)
}

// pollLocked is poll for a caller that holds inflight.
func (t *ttyIO) pollLocked(fds []unix.PollFd, ttyEvents int16) error {
	fds[0] = unix.PollFd{Fd: int32(t.fd), Events: ttyEvents}
	fds[1] = unix.PollFd{Fd: int32(t.wake), Events: unix.POLLIN}
	for {
		if t.closed.Load() {
			return errTTYClosed
		}
		for i := range fds {
			fds[i].Revents = 0
		}
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return err
		}
		if fds[1].Revents != 0 || fds[0].Revents&unix.POLLNVAL != 0 {
			return errTTYClosed
		}
		return nil
	}
}

// readNB reads the tty once without waiting; unix.EAGAIN means it had
// nothing.
func (t *ttyIO) readNB(p []byte) (int, error) {
	t.inflight.RLock()
	defer t.inflight.RUnlock()
	if t.closed.Load() {
		return 0, errTTYClosed
	}
	return unix.Read(t.fd, p)
}

// writeNB writes as much of p as the tty's output queue takes now.
func (t *ttyIO) writeNB(p []byte) (int, error) {
	t.inflight.RLock()
	defer t.inflight.RUnlock()
	n, _, err := t.writeAvail(p)
	return n, err
}

//go:build linux

package serialfwd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// needDeviceLoop skips when the program cannot afford a thread for a
// device (GOMAXPROCS 1), the case in which the device loop never runs.
func needDeviceLoop(t *testing.T) {
	t.Helper()
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("GOMAXPROCS < 2: devices are read through the runtime's poller")
	}
}

// waitDirect waits until the device loop serves the port's writer.
func waitDirect(t *testing.T, srv *Server, port string) *session {
	t.Helper()
	srv.mu.Lock()
	p := srv.ports[port]
	srv.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s := p.direct.Load(); s != nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatal("the device loop does not serve the writer's connection")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDeviceLoopServesTCPWriter checks that a TCP writer on a tty is served
// by the device loop and that a watcher alongside it still sees every byte.
func TestDeviceLoopServesTCPWriter(t *testing.T) {
	needDeviceLoop(t)
	pp := newPtyPair(t)
	cs := newConnServer(t, nil, PortConfig{Name: "pty", Open: SerialOpener(pp.A, Mode{}), Access: AccessShared}, ProtocolRaw)
	far, err := openSerial(pp.B, Mode{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	w := dial(t, cs.addr)
	s := waitDirect(t, cs.srv, "pty")
	if s.info.Role != RoleWriter {
		t.Fatalf("the loop serves a %v", s.info.Role)
	}
	watcher := dial(t, cs.addr)
	waitSessions(t, cs.srv, 2)
	w.Write([]byte("ping"))
	if got := readFull(t, far, 4, 10*time.Second); string(got) != "ping" {
		t.Fatalf("device got %q", got)
	}
	far.Write([]byte("pong"))
	if got := readFull(t, w, 4, 10*time.Second); string(got) != "pong" {
		t.Fatalf("writer got %q", got)
	}
	if got := readFull(t, watcher, 4, 10*time.Second); string(got) != "pong" {
		t.Fatalf("watcher got %q", got)
	}
	w.Close()
	if r := cs.next(t); r.principal != "user1" || r.err != nil {
		t.Fatalf("writer's session ended with %v for %v, want nil for user1", r.err, r.principal)
	}
}

// newPty opens a pty and returns its master, on the runtime's poller, and
// the path of its slave. Unlike a socat pair, whose relay stops both ways
// when one way is blocked, the two directions of one pty are independent
// kernel queues.
func newPty(t *testing.T) (*os.File, string) {
	t.Helper()
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(mfd)
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(mfd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(mfd)
		t.Fatal(err)
	}
	master := os.NewFile(uintptr(mfd), "/dev/ptmx")
	t.Cleanup(func() { master.Close() })
	return master, fmt.Sprintf("/dev/pts/%d", n)
}

// TestDeviceLoopEachWayIndependent blocks one direction at a time and
// checks the other keeps moving: the loop must never wait on one side
// while the other has work. First the client writes 1 MiB before it reads
// anything while the device sends 1 MiB; then the device writes 1 MiB
// before it reads anything while the client sends 1 MiB. Every byte must
// arrive in order.
func TestDeviceLoopEachWayIndependent(t *testing.T) {
	needDeviceLoop(t)
	far, path := newPty(t)
	srv, addr := serve(t, nil, PortConfig{Name: "pty", Open: SerialOpener(path, Mode{})}, ProtocolRaw)
	c := dial(t, addr)
	waitDirect(t, srv, "pty")

	const size = 1 << 20
	rng := rand.New(rand.NewPCG(3, 4))
	random := func() []byte {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	for _, clientFirst := range []bool{true, false} {
		up, down := random(), random()
		// The side that writes first reads only once its write is done;
		// the other side reads all along.
		var first, second io.ReadWriter = c, far
		firstData, secondData := up, down
		if !clientFirst {
			first, second = far, c
			firstData, secondData = down, up
		}
		errc := make(chan error, 2)
		go func() { errc <- writeFull(second, secondData) }()
		gotBySecond := make(chan []byte, 1)
		go func() {
			b := make([]byte, size)
			io.ReadFull(second, b)
			gotBySecond <- b
		}()
		if err := writeAll(first, firstData, 60*time.Second); err != nil {
			t.Fatalf("client first %v: the first writer stalled: %v", clientFirst, err)
		}
		gotByFirst := readFull(t, first, size, 60*time.Second)
		if !bytes.Equal(gotByFirst, secondData) {
			t.Fatalf("client first %v: bytes to the first writer lost or reordered", clientFirst)
		}
		select {
		case b := <-gotBySecond:
			if !bytes.Equal(b, firstData) {
				t.Fatalf("client first %v: bytes from the first writer lost or reordered", clientFirst)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("client first %v: the second side did not receive everything", clientFirst)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

// writeAll writes p to w, failing after timeout.
func writeAll(w io.Writer, p []byte, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- writeFull(w, p) }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		return errors.New("write timed out")
	}
}

// TestDeviceLoopClientClosesWithDataInFlight has the client send 256 KiB
// and close its side at once, faster than the pty takes them: the session
// must still deliver every byte to the device before it ends.
func TestDeviceLoopClientClosesWithDataInFlight(t *testing.T) {
	needDeviceLoop(t)
	pp := newPtyPair(t)
	cs := newConnServer(t, nil, PortConfig{Name: "pty", Open: SerialOpener(pp.A, Mode{})}, ProtocolRaw)
	far, err := openSerial(pp.B, Mode{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	c := dial(t, cs.addr)
	waitDirect(t, cs.srv, "pty")
	want := make([]byte, 256<<10)
	for i := range want {
		want[i] = byte(i * 7)
	}
	go func() {
		if writeFull(c, want) == nil {
			c.(*net.TCPConn).CloseWrite()
		}
	}()
	if got := readFull(t, far, len(want), 60*time.Second); !bytes.Equal(got, want) {
		t.Fatal("bytes sent before the close were lost or reordered")
	}
	if r := cs.next(t); r.err != nil {
		t.Fatalf("session ended with %v, want nil", r.err)
	}
	expectEOF(t, c)
}

// countingConn is a connection wrapper that embeds the socket (and so its
// SyscallConn method) and counts the bytes read through it.
type countingConn struct {
	*net.TCPConn
	read atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.TCPConn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// TestDeviceLoopLeavesWrappedConnections checks that a connection wrapper
// is never bypassed: the session reads through it, not the socket under it.
func TestDeviceLoopLeavesWrappedConnections(t *testing.T) {
	needDeviceLoop(t)
	pp := newPtyPair(t)
	srv := NewServer(nil)
	defer srv.Close()
	if err := srv.AddPort(PortConfig{Name: "pty", Open: SerialOpener(pp.A, Mode{})}); err != nil {
		t.Fatal(err)
	}
	far, err := openSerial(pp.B, Mode{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	l := listen(t)
	defer l.Close()
	wrapped := make(chan *countingConn, 1)
	served := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			served <- err
			return
		}
		cc := &countingConn{TCPConn: c.(*net.TCPConn)}
		wrapped <- cc
		served <- srv.ServeConn(context.Background(), cc, "pty", ProtocolRaw)
	}()
	c := dial(t, l.Addr().String())
	cc := <-wrapped
	c.Write([]byte("via wrapper"))
	if got := readFull(t, far, 11, 10*time.Second); string(got) != "via wrapper" {
		t.Fatalf("device got %q", got)
	}
	if n := cc.read.Load(); n != 11 {
		t.Fatalf("the wrapper saw %d bytes, want 11", n)
	}
	srv.mu.Lock()
	p := srv.ports["pty"]
	srv.mu.Unlock()
	if p.direct.Load() != nil {
		t.Fatal("the device loop took over a wrapped connection")
	}
	c.Close()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("session ended with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("session did not end")
	}
}

package acceptloop_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gonaut/gonaut/internal/acceptloop"
)

// scriptedListener returns the scripted accept errors first, then behaves
// as the real loopback listener it wraps. It records when each Accept was
// called.
type scriptedListener struct {
	net.Listener
	mu    sync.Mutex
	errs  []error
	calls []time.Time
}

func (l *scriptedListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	l.calls = append(l.calls, time.Now())
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		l.mu.Unlock()
		return nil, err
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

func (l *scriptedListener) acceptTimes() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Time(nil), l.calls...)
}

// timeoutError is what a deadline on a listener returns.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serve runs l.Serve(ln, handle) and returns its result channel.
func serve(l *acceptloop.Loop, ln net.Listener, handle func(context.Context, net.Conn)) <-chan error {
	done := make(chan error, 1)
	go func() { done <- l.Serve(ln, handle) }()
	return done
}

func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}

// TestTemporaryErrorsBackOff checks that temporary accept errors (a
// timeout, EMFILE) are retried with a growing pause and that the loop then
// serves the next connection.
func TestTemporaryErrorsBackOff(t *testing.T) {
	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	ln := &scriptedListener{Listener: listen(t), errs: []error{timeoutError{}, emfile, timeoutError{}, emfile}}
	l := acceptloop.New(nil)
	defer l.Close()
	served := make(chan struct{})
	done := serve(l, ln, func(_ context.Context, c net.Conn) {
		c.Close()
		close(served)
	})
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("connection after temporary errors not served")
	}
	calls := ln.acceptTimes()
	if len(calls) < 5 {
		t.Fatalf("%d accepts, want at least 5", len(calls))
	}
	// The pauses are 5, 10, 20 and 40ms; allow for a coarse timer.
	for i, want := range []time.Duration{5, 10, 20, 40} {
		want *= time.Millisecond
		if got := calls[i+1].Sub(calls[i]); got < want*9/10 {
			t.Errorf("pause %d: %v, want at least %v", i, got, want)
		}
	}
	l.Close()
	if err := wait(t, done); err != nil {
		t.Errorf("Serve after Close: %v", err)
	}
}

// TestPermanentErrorEndsServe checks that an accept error that is not
// temporary ends Serve with it, named after the server, and closes the
// listener.
func TestPermanentErrorEndsServe(t *testing.T) {
	boom := errors.New("boom")
	inner := listen(t)
	ln := &scriptedListener{Listener: inner, errs: []error{boom}}
	l := acceptloop.New(&acceptloop.Options{Name: "usbip"})
	defer l.Close()
	err := wait(t, serve(l, ln, func(context.Context, net.Conn) {}))
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "usbip: accept: ") {
		t.Errorf("Serve: %v, want usbip: accept: boom", err)
	}
	if _, err := inner.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("listener after Serve returned: %v, want closed", err)
	}
}

// TestCloseResult checks the documented results: nil from a Serve that
// Close stopped, ErrClosed (or Options.ErrClosed) from Serve and Track on
// a closed loop, and the listener closed in both cases.
func TestCloseResult(t *testing.T) {
	l := acceptloop.New(nil)
	done := serve(l, listen(t), func(context.Context, net.Conn) {})
	time.Sleep(10 * time.Millisecond) // let Serve reach Accept
	l.Close()
	if err := wait(t, done); err != nil {
		t.Errorf("Serve stopped by Close: %v, want nil", err)
	}
	l.Close() // twice is fine

	ln := listen(t)
	if err := l.Serve(ln, func(context.Context, net.Conn) {}); !errors.Is(err, acceptloop.ErrClosed) {
		t.Errorf("Serve on a closed loop: %v, want ErrClosed", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("listener refused by a closed loop: %v, want closed", err)
	}
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	if _, err := l.Track(c1); !errors.Is(err, acceptloop.ErrClosed) {
		t.Errorf("Track on a closed loop: %v, want ErrClosed", err)
	}
	// A server names its own closed error.
	errMine := errors.New("mine: closed")
	mine := acceptloop.New(&acceptloop.Options{ErrClosed: errMine})
	mine.Close()
	if err := mine.Serve(listen(t), func(context.Context, net.Conn) {}); err != errMine {
		t.Errorf("Serve with Options.ErrClosed: %v, want %v", err, errMine)
	}
	if _, err := mine.Track(c1); err != errMine {
		t.Errorf("Track with Options.ErrClosed: %v, want %v", err, errMine)
	}
}

// TestCloseWaitsForHandlers checks that Close cancels the handlers'
// context, closes their connections and returns only after every handler
// and tracked connection has finished.
func TestCloseWaitsForHandlers(t *testing.T) {
	type key struct{}
	l := acceptloop.New(&acceptloop.Options{
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, key{}, c.RemoteAddr().String())
		},
	})
	ln := listen(t)
	var started sync.WaitGroup
	var finished atomic.Int32
	var sawValue atomic.Bool
	const n = 3
	started.Add(n)
	done := serve(l, ln, func(ctx context.Context, c net.Conn) {
		defer c.Close()
		sawValue.Store(ctx.Value(key{}) != nil)
		started.Done()
		// Block on the connection: only Close's closing it ends the read.
		c.Read(make([]byte, 1))
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond) // still counted by Close
		finished.Add(1)
	})
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	started.Wait()

	// A connection the embedder accepted: Close closes it and waits for
	// its release.
	c1, c2 := net.Pipe()
	defer c2.Close()
	release, err := l.Track(c1)
	if err != nil {
		t.Fatal(err)
	}
	var trackedDone atomic.Bool
	go func() {
		c1.Read(make([]byte, 1)) // ends when Close closes c1
		time.Sleep(20 * time.Millisecond)
		trackedDone.Store(true)
		release()
		release() // twice is harmless
	}()

	l.Close()
	if got := finished.Load(); got != n {
		t.Errorf("Close returned with %d of %d handlers finished", got, n)
	}
	if !trackedDone.Load() {
		t.Error("Close returned before the tracked connection was released")
	}
	if !sawValue.Load() {
		t.Error("handler context lacks the ConnContext value")
	}
	if err := wait(t, done); err != nil {
		t.Errorf("Serve: %v", err)
	}
}

package acceptloop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// ErrClosed is returned by Serve and Track on a closed Loop unless
// Options.ErrClosed names the server's own error.
var ErrClosed = errors.New("acceptloop: closed")

// The backoff after a temporary accept error.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
)

// Options configures a Loop. A nil *Options is valid: all defaults. The
// Loop never modifies it.
type Options struct {
	// Name prefixes the error Serve returns when accepting fails for good,
	// as in "usbip: accept: ...". Default "acceptloop".
	Name string

	// ErrClosed is what Serve and Track return on a closed Loop, so that
	// a server reports its own sentinel. Default ErrClosed.
	ErrClosed error

	// ConnContext derives the context of a connection accepted by Serve
	// from the Loop's (which Close cancels), for example to attach the
	// principal a TLS or tunnel layer authenticated. It runs on the
	// accepting goroutine, before the handler starts. Default: the Loop's
	// context.
	ConnContext func(ctx context.Context, c net.Conn) context.Context
}

// Loop accepts connections for one server and owns the goroutines that
// serve them. The zero Loop is not usable; call New.
type Loop struct {
	name        string
	errClosed   error
	connContext func(context.Context, net.Conn) context.Context
	ctx         context.Context // parent of every handler's; cancelled by Close
	cancel      context.CancelFunc

	mu        sync.Mutex // guards the fields below
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	closed    bool
	// wg counts Serve calls, handlers and tracked connections. Add only
	// under mu with closed false, so that it never races Close's Wait.
	wg sync.WaitGroup
}

// New returns an open Loop.
func New(opts *Options) *Loop {
	l := &Loop{
		name:      "acceptloop",
		errClosed: ErrClosed,
		listeners: map[net.Listener]struct{}{},
		conns:     map[net.Conn]struct{}{},
	}
	if opts != nil {
		if opts.Name != "" {
			l.name = opts.Name
		}
		if opts.ErrClosed != nil {
			l.errClosed = opts.ErrClosed
		}
		l.connContext = opts.ConnContext
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return l
}

// Serve accepts connections on ln and calls handle for each in its own
// goroutine, with the connection's context (see Options.ConnContext).
// handle must return once that context is cancelled or the connection is
// closed; the Loop does not close the connection when handle returns.
// Serve returns nil when Close stopped it, ErrClosed (or
// Options.ErrClosed) if the Loop was already closed, and the accept error
// otherwise; it closes ln in every case.
func (l *Loop) Serve(ln net.Listener, handle func(ctx context.Context, c net.Conn)) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		ln.Close()
		return l.errClosed
	}
	l.listeners[ln] = struct{}{}
	l.wg.Add(1)
	l.mu.Unlock()
	defer l.wg.Done()
	defer func() {
		l.mu.Lock()
		delete(l.listeners, ln)
		l.mu.Unlock()
		ln.Close()
	}()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if l.isClosed() {
				return nil
			}
			if !temporary(err) {
				return fmt.Errorf("%s: accept: %w", l.name, err)
			}
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			if !l.sleep(backoff) {
				return nil
			}
			continue
		}
		backoff = 0
		ctx := l.ctx
		if l.connContext != nil {
			ctx = l.connContext(ctx, c)
		}
		release, err := l.Track(c)
		if err != nil {
			c.Close()
			return nil
		}
		go func() {
			defer release()
			handle(ctx, c)
		}()
	}
}

// Track counts c, a connection served outside Serve, until release is
// called: Close closes it and waits for release. It returns ErrClosed (or
// Options.ErrClosed), and leaves c alone, if the Loop is closed.
func (l *Loop) Track(c net.Conn) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, l.errClosed
	}
	l.conns[c] = struct{}{}
	l.wg.Add(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.conns, c)
			l.mu.Unlock()
			l.wg.Done()
		})
	}, nil
}

// Context returns the Loop's context, which Close cancels.
func (l *Loop) Context() context.Context { return l.ctx }

// Close stops every Serve, cancels the handlers' context, closes every
// connection being served or tracked, and waits until all of them have
// finished. It is safe to call more than once; later calls also wait.
func (l *Loop) Close() {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		l.cancel()
		for ln := range l.listeners {
			ln.Close()
		}
		for c := range l.conns {
			c.Close()
		}
	}
	l.mu.Unlock()
	l.wg.Wait()
}

func (l *Loop) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// sleep waits for d and reports whether the Loop is still open.
func (l *Loop) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.ctx.Done():
		return false
	}
}

// temporary reports whether an accept error is worth retrying: a timeout,
// or an error that says it is temporary (EMFILE, ENFILE, ECONNABORTED).
// Temporary is deprecated on net.Error for general use, but it is still
// what tells a transient accept failure from a closed listener, as
// net/http relies on.
func temporary(err error) bool {
	var t interface{ Timeout() bool }
	if errors.As(err, &t) && t.Timeout() {
		return true
	}
	var tmp interface{ Temporary() bool }
	return errors.As(err, &tmp) && tmp.Temporary()
}

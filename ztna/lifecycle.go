package ztna

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// lifecycle is the gateway's one way to stop. New opens what the gateway
// owns in order and registers how to close each with onClose; every
// goroutine of the gateway is counted on wg and returns once ctx is done.
// end, which Close calls, cancels ctx, waits for those goroutines and then
// closes what was opened in reverse order of opening.
//
// The event writer and the HTTP proxy's server are not on wg: they serve
// the goroutines that wg counts (which emit events and hand connections to
// the proxy up to their last moment), so each is stopped, and waited for,
// by its closer, after wg is done.
type lifecycle struct {
	ctx    context.Context // done once Close begins
	cancel context.CancelFunc

	closed   atomic.Bool // Close has begun: Reload and ApplyBundle refuse
	draining atomic.Bool // new flows are refused (Drain or Close)

	wg sync.WaitGroup // every goroutine the gateway started; see spawn

	mu sync.Mutex
	// guarded by mu
	stopping bool           // spawn starts nothing more
	closers  []func() error // in order of opening

	once sync.Once // end runs once
}

func (l *lifecycle) init() {
	l.ctx, l.cancel = context.WithCancel(context.Background())
}

// onClose registers close to run when the gateway closes, before every
// closer registered earlier. Closing what was opened in reverse order
// means that nothing is closed while something opened after it, which
// may use it, is still open.
func (l *lifecycle) onClose(close func() error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closers = append(l.closers, close)
}

// spawn runs f on a goroutine that Close waits for; f must return once
// l.ctx is done. Once Close has begun it starts nothing and reports
// false. The goroutines New starts before it returns, when Close cannot
// have begun, may count themselves on wg directly instead.
func (l *lifecycle) spawn(f func()) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopping {
		return false
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		f()
	}()
	return true
}

// end stops the gateway the first time it is called: it marks it closed
// and draining, runs cut (which cuts the live flows), cancels ctx, waits
// for every goroutine on wg and runs the closers in reverse order,
// returning their errors. Later calls wait for the first to finish and
// return nil.
func (l *lifecycle) end(cut func()) error {
	var err error
	l.once.Do(func() {
		l.closed.Store(true)
		l.draining.Store(true)
		cut()
		l.cancel()
		l.mu.Lock()
		l.stopping = true
		closers := l.closers
		l.closers = nil
		l.mu.Unlock()
		l.wg.Wait()
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			if e := closers[i](); e != nil {
				errs = append(errs, e)
			}
		}
		err = errors.Join(errs...)
	})
	return err
}

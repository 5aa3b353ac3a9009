package ztna

import (
	"context"
	"log/slog"
	"sync"
)

// eventQueueLen bounds the events waiting for the writer; past it, emit
// blocks, so that a stuck sink slows new flows rather than losing their
// audit trail.
const eventQueueLen = 8192

// eventWriter takes events off the flows' paths: emit queues them, and one
// goroutine formats them and hands them, in batches, to the audit sink,
// analytics, slog and the metrics.
type eventWriter struct {
	ch   chan *Event
	done chan struct{} // closed when the writer has exited

	mu sync.RWMutex
	// guarded by mu
	closed bool
}

func (g *Gateway) startEvents() {
	g.evw = &eventWriter{ch: make(chan *Event, eventQueueLen), done: make(chan struct{})}
	go g.writeEvents()
}

// stopEvents records everything queued and stops the writer; later events
// are recorded on the caller's goroutine.
func (g *Gateway) stopEvents() {
	w := g.evw
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	close(w.ch)
	w.mu.Unlock()
	<-w.done
}

// emit records ev: queued for the event writer, or at once once the
// writer has stopped. The caller must not touch ev afterwards.
func (g *Gateway) emit(ev *Event) {
	w := g.evw
	w.mu.RLock()
	if !w.closed {
		w.ch <- ev
		w.mu.RUnlock()
		return
	}
	w.mu.RUnlock()
	g.record([]*Event{ev})
}

func (g *Gateway) writeEvents() {
	defer close(g.evw.done)
	batch := make([]*Event, 0, 256)
	for ev := range g.evw.ch {
		batch = append(batch[:0], ev)
	more:
		for len(batch) < cap(batch) {
			select {
			case ev, ok := <-g.evw.ch:
				if !ok {
					break more
				}
				batch = append(batch, ev)
			default:
				break more
			}
		}
		g.record(batch)
		clear(batch)
	}
}

// record sends evs to the metrics, the audit sink, analytics and slog.
func (g *Gateway) record(evs []*Event) {
	ctx := context.Background()
	for _, ev := range evs {
		ev.format()
		g.metrics.event(ctx, ev)
	}
	// Analytics first: a risk score that moves re-decides live flows, and
	// whoever reads the audit trail finds the risk already updated. The
	// alerts raised join the batch as events of their own, so that the
	// audit sink (a console, through ConsoleAudit) receives them too.
	var alerts []*Event
	if g.analytics != nil {
		for _, ev := range evs {
			if ev.Subject != "" && ev.Kind != EventRevoke && ev.Kind != EventAlert {
				alerts = g.observe(ev, alerts)
			}
		}
	}
	if len(alerts) > 0 {
		g.kick() // a risk score moved: re-decide live flows
		evs = append(evs[:len(evs):len(evs)], alerts...)
	}
	if g.audit != nil {
		var err error
		if br, ok := g.audit.(batchRecorder); ok {
			err = br.recordBatch(evs)
		} else {
			for _, ev := range evs {
				if e := g.audit.Record(ev); e != nil && err == nil {
					err = e
				}
			}
		}
		if err != nil {
			g.log.Warn("audit record failed", "err", err)
		}
	}
	for _, ev := range evs {
		if g.log.Enabled(ctx, slog.LevelInfo) {
			g.log.LogAttrs(ctx, slog.LevelInfo, "ztna "+ev.Kind,
				slog.String("subject", ev.Subject), slog.String("device", ev.Device),
				slog.String("resource", ev.Resource), slog.String("effect", ev.Effect),
				slog.String("rule", ev.Rule), slog.String("reason", ev.Reason),
				slog.Uint64("bytes_in", ev.BytesIn), slog.Uint64("bytes_out", ev.BytesOut))
		}
	}
}

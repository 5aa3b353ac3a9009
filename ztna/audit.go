package ztna

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// An AuditSink receives every event. The gateway calls Record from one
// goroutine of its own, in the order the events happened, never from a
// flow's path; a slow sink delays the audit trail and, once the gateway's
// queue of 8,192 events is full, new flows. Record must be safe for
// concurrent use (a sink may serve several gateways).
type AuditSink interface {
	Record(ev *Event) error
}

// FileAudit is the default AuditSink: one JSON line per event, appended to
// a file with one write per Record (per batch, for the gateway's own
// writer), never half a line.
type FileAudit struct {
	mu sync.Mutex
	// guarded by mu
	f   *os.File
	buf bytes.Buffer
}

var _ AuditSink = (*FileAudit)(nil)

// OpenFileAudit opens (creating or appending to) a JSON lines audit file.
func OpenFileAudit(path string) (*FileAudit, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("ztna: audit file: %w", err)
	}
	return &FileAudit{f: f}, nil
}

// Record implements AuditSink.
func (a *FileAudit) Record(ev *Event) error {
	return a.recordBatch([]*Event{ev})
}

// recordBatch appends evs with one write, of whole lines only, so that a
// reader following the file never sees half an event: the gateway's event
// writer hands it everything queued since its last write.
func (a *FileAudit) recordBatch(evs []*Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return ErrClosed
	}
	a.buf.Reset()
	enc := json.NewEncoder(&a.buf)
	enc.SetEscapeHTML(false)
	for _, ev := range evs {
		if err := enc.Encode(ev); err != nil {
			return err
		}
	}
	_, err := a.f.Write(a.buf.Bytes())
	if a.buf.Cap() > 1<<20 {
		a.buf = bytes.Buffer{} // do not keep a burst's buffer
	}
	return err
}

type batchRecorder interface {
	recordBatch(evs []*Event) error
}

// Close closes the file; it is safe to call twice.
func (a *FileAudit) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return nil
	}
	err := a.f.Close()
	a.f = nil
	return err
}

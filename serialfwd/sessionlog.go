package serialfwd

import (
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"
)

// Direction is which way recorded bytes went.
type Direction int

const (
	// ToDevice is data from the client to the serial device.
	ToDevice Direction = iota
	// FromDevice is data from the serial device to the client.
	FromDevice
)

func (d Direction) String() string {
	if d == FromDevice {
		return "from-device"
	}
	return "to-device"
}

// SessionLog records the bytes of sessions for audit. Log is called from
// several goroutines at once and must not retain data after it returns.
type SessionLog interface {
	Log(info SessionInfo, dir Direction, data []byte)
}

// NewTextSessionLog returns a SessionLog that writes one line per transfer
// to w:
//
//	2026-11-22T01:40:00.123456Z session=3 port=plc1 principal=alice to-device 5 68656c6c6f
//
// Write errors are ignored: the session log never stops a session.
func NewTextSessionLog(w io.Writer) SessionLog { return &textLog{w: w} }

type textLog struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func (t *textLog) Log(info SessionInfo, dir Direction, data []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := time.Now().UTC().AppendFormat(t.buf[:0], "2006-01-02T15:04:05.000000Z")
	b = fmt.Appendf(b, " session=%d port=%s principal=%v %v %d ", info.ID, info.Port, info.Principal, dir, len(data))
	b = hex.AppendEncode(b, data)
	b = append(b, '\n')
	t.buf = b
	t.w.Write(b)
}

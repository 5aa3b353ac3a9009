package serialfwd

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"
)

// memDevice is an in-memory loopback Device with settable modem inputs. It
// stands in for a UART here because no tty on this machine has modem
// lines: ptys refuse TIOCMGET, and there is no USB-serial hardware.
type memDevice struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	closed bool
	mode   Mode
	modem  ModemState
}

func newMemDevice() *memDevice {
	d := &memDevice{mode: DefaultMode}
	d.cond = sync.NewCond(&d.mu)
	return d
}

func (d *memDevice) Read(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.buf) == 0 && !d.closed {
		d.cond.Wait()
	}
	if d.closed {
		return 0, io.EOF
	}
	n := copy(p, d.buf)
	d.buf = d.buf[n:]
	return n, nil
}

func (d *memDevice) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.buf = append(d.buf, p...)
	d.cond.Broadcast()
	return len(p), nil
}

func (d *memDevice) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	d.cond.Broadcast()
	return nil
}

func (d *memDevice) SetMode(m Mode) (Mode, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mode = m.Merge(d.mode)
	return d.mode, nil
}

func (d *memDevice) SetBreak(on bool) (bool, error) { return on, nil }

func (d *memDevice) SetDTR(on bool) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.modem.DTR = on
	return on, nil
}

func (d *memDevice) SetRTS(on bool) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.modem.RTS = on
	return on, nil
}

func (d *memDevice) ModemState() (ModemState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.modem, nil
}

func (d *memDevice) Purge(bool, bool) error { return nil }

func (d *memDevice) setInputs(cts, dcd bool) {
	d.mu.Lock()
	d.modem.CTS, d.modem.DCD = cts, dcd
	d.mu.Unlock()
}

// TestModemStateNotifications checks NOTIFY-MODEMSTATE reaches the client
// when the device's modem inputs change, and that DTR/RTS on a device that
// has them are answered as applied.
func TestModemStateNotifications(t *testing.T) {
	dev := newMemDevice()
	_, addr := serve(t, nil, PortConfig{
		Name: "uart", ModemPoll: 5 * time.Millisecond,
		Open: func(context.Context) (Device, error) { return dev, nil },
	}, ProtocolRFC2217)
	ctx := ctxTimeout(t, 20*time.Second)
	c, err := Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if on, err := c.SetDTR(ctx, true); err != nil || !on {
		t.Fatalf("DTR on a device with modem lines: %v, %v", on, err)
	}
	if on, err := c.SetRTS(ctx, true); err != nil || !on {
		t.Fatalf("RTS: %v, %v", on, err)
	}
	dev.setInputs(true, true)
	waitModem(t, c, func(m ModemState) bool { return m.CTS && m.DCD })
	dev.setInputs(false, true)
	waitModem(t, c, func(m ModemState) bool { return !m.CTS && m.DCD })
	if m := c.ModemState(); !m.DTR || !m.RTS {
		t.Fatalf("client lost DTR/RTS state: %+v", m)
	}
}

func waitModem(t *testing.T, c *Client, ok func(ModemState) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok(c.ModemState()) {
		if time.Now().After(deadline) {
			t.Fatalf("modem state %+v never matched", c.ModemState())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSlowWatcherDropped checks that a read-only watcher that stops reading
// is disconnected with ErrSlowWatcher while the writer keeps flowing.
func TestSlowWatcherDropped(t *testing.T) {
	dev := newMemDevice()
	srv := NewServer(nil)
	defer srv.Close()
	srv.AddPort(PortConfig{Name: "uart", Access: AccessShared, QueueChunks: 1,
		Open: func(context.Context) (Device, error) { return dev, nil }})
	l := listen(t)
	defer l.Close()
	results := make(chan error, 2)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			// Small kernel buffers so that a watcher that stops reading
			// fills up after kilobytes rather than megabytes.
			c.(interface{ SetWriteBuffer(int) error }).SetWriteBuffer(4096)
			go func() { results <- srv.ServeConn(context.Background(), c, "uart", ProtocolRaw) }()
		}
	}()
	writer := dial(t, l.Addr().String())
	waitSessionsN(t, srv, 1)
	watcher := dial(t, l.Addr().String())
	watcher.(interface{ SetReadBuffer(int) error }).SetReadBuffer(4096)
	waitSessionsN(t, srv, 2)

	// The writer sends and reads back (the device is a loopback) until
	// the watcher is dropped.
	go io.Copy(io.Discard, writer)
	block := make([]byte, 4096)
	var err error
	deadline := time.Now().Add(20 * time.Second)
	for {
		writer.Write(block)
		select {
		case err = <-results:
		default:
			if time.Now().After(deadline) {
				t.Fatal("watcher never dropped")
			}
			continue
		}
		break
	}
	if err != ErrSlowWatcher {
		t.Fatalf("first session to end: %v, want ErrSlowWatcher", err)
	}
	// The writer still works.
	if _, err := writer.Write([]byte("still here")); err != nil {
		t.Fatal(err)
	}
	if ps := srv.Ports(); ps[0].Sessions != 1 {
		t.Fatalf("sessions after drop: %d", ps[0].Sessions)
	}
}

func waitSessionsN(t *testing.T, srv *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Ports()[0].Sessions != n {
		if time.Now().After(deadline) {
			t.Fatalf("want %d sessions, have %d", n, srv.Ports()[0].Sessions)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

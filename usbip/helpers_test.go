package usbip_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonaut/gonaut/usbip"
	"github.com/gonaut/gonaut/usbip/sim"
)

// testServer runs a Server on a loopback listener until the test ends.
type testServer struct {
	*usbip.Server
	addr string
}

func startServer(tb testing.TB, opts *usbip.ServerOptions, devs ...usbip.Device) *testServer {
	tb.Helper()
	srv := usbip.NewServer(opts)
	for _, d := range devs {
		if _, err := srv.Add("", d); err != nil {
			tb.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	tb.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})
	return &testServer{Server: srv, addr: ln.Addr().String()}
}

func (s *testServer) port() string {
	_, p, _ := net.SplitHostPort(s.addr)
	return p
}

func dial(tb testing.TB, addr string) net.Conn {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func list(tb testing.TB, addr string) []usbip.ExportedDevice {
	tb.Helper()
	c := dial(tb, addr)
	defer c.Close()
	devs, err := usbip.List(testCtx(tb), c)
	if err != nil {
		tb.Fatal(err)
	}
	return devs
}

func importDev(tb testing.TB, addr, busID string) *usbip.RemoteDevice {
	tb.Helper()
	d, err := usbip.Import(testCtx(tb), dial(tb, addr), busID, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}

func setConfig(tb testing.TB, d *usbip.RemoteDevice, v uint16) {
	tb.Helper()
	if _, err := d.Control(testCtx(tb), usbip.Setup{Request: usbip.RequestSetConfiguration, Value: v}, nil); err != nil {
		tb.Fatal(err)
	}
}

// bot is a minimal USB mass-storage bulk-only host, enough to drive
// sim.Storage from tests and benchmarks.
type bot struct {
	d   *usbip.RemoteDevice
	tag uint32
}

func cbw(tag uint32, dataLen int, in bool, cb []byte) []byte {
	b := make([]byte, 31)
	binary.LittleEndian.PutUint32(b, 0x43425355)
	binary.LittleEndian.PutUint32(b[4:], tag)
	binary.LittleEndian.PutUint32(b[8:], uint32(dataLen))
	if in {
		b[12] = 0x80
	}
	b[14] = byte(len(cb))
	copy(b[15:], cb)
	return b
}

func rw10(op byte, lba uint32, blocks uint16) []byte {
	cb := make([]byte, 10)
	cb[0] = op
	binary.BigEndian.PutUint32(cb[2:], lba)
	binary.BigEndian.PutUint16(cb[7:], blocks)
	return cb
}

// pendingCmd is one command whose three stages are in flight.
type pendingCmd struct {
	tag            uint32
	cbw, data, csw *usbip.Request
	cswBuf         []byte
}

// start queues the CBW, data and CSW URBs of one command without waiting.
func (b *bot) start(ctx context.Context, cb []byte, data []byte, in bool) (*pendingCmd, error) {
	b.tag++
	p := &pendingCmd{tag: b.tag, cswBuf: make([]byte, 13)}
	var err error
	if p.cbw, err = b.d.Submit(ctx, sim.StorageOutEndpoint, cbw(b.tag, len(data), in, cb)); err != nil {
		return nil, err
	}
	if len(data) > 0 {
		ep := uint8(sim.StorageOutEndpoint)
		if in {
			ep = sim.StorageInEndpoint
		}
		if p.data, err = b.d.Submit(ctx, ep, data); err != nil {
			return nil, err
		}
	}
	if p.csw, err = b.d.Submit(ctx, sim.StorageInEndpoint, p.cswBuf); err != nil {
		return nil, err
	}
	return p, nil
}

// wait returns the data-stage byte count and the CSW status.
func (p *pendingCmd) wait() (int, byte, error) {
	if _, err := p.cbw.Wait(); err != nil {
		return 0, 0, fmt.Errorf("cbw: %w", err)
	}
	n := 0
	if p.data != nil {
		var err error
		if n, err = p.data.Wait(); err != nil {
			return 0, 0, fmt.Errorf("data: %w", err)
		}
	}
	m, err := p.csw.Wait()
	if err != nil {
		return 0, 0, fmt.Errorf("csw: %w", err)
	}
	if m != 13 || binary.LittleEndian.Uint32(p.cswBuf) != 0x53425355 || binary.LittleEndian.Uint32(p.cswBuf[4:]) != p.tag {
		return 0, 0, fmt.Errorf("bad CSW % x", p.cswBuf[:m])
	}
	return n, p.cswBuf[12], nil
}

func (b *bot) do(ctx context.Context, cb []byte, data []byte, in bool) (int, byte, error) {
	p, err := b.start(ctx, cb, data, in)
	if err != nil {
		return 0, 0, err
	}
	return p.wait()
}

// logRecorder is a slog handler that keeps messages for assertions.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	l.mu.Lock()
	l.msgs = append(l.msgs, b.String())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }
func (l *logRecorder) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.msgs...)
}

func (l *logRecorder) has(substr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.Contains(m, substr) {
			return true
		}
	}
	return false
}

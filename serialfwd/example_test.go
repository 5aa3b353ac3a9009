package serialfwd_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/gonaut/gonaut/serialfwd"
)

// loopback is a Device whose output is its input, like a serial port with
// TX wired to RX. It refuses DTR and RTS the way a pty does.
type loopback struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	closed bool
	mode   serialfwd.Mode
}

func newLoopback() *loopback {
	l := &loopback{mode: serialfwd.DefaultMode}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func (l *loopback) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.buf) == 0 && !l.closed {
		l.cond.Wait()
	}
	if l.closed {
		return 0, io.EOF
	}
	n := copy(p, l.buf)
	l.buf = l.buf[n:]
	return n, nil
}

func (l *loopback) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	l.cond.Broadcast()
	return len(p), nil
}

func (l *loopback) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.cond.Broadcast()
	return nil
}

func (l *loopback) SetMode(m serialfwd.Mode) (serialfwd.Mode, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mode = m.Merge(l.mode)
	return l.mode, nil
}

func (l *loopback) SetBreak(on bool) (bool, error) { return on, nil }
func (l *loopback) SetDTR(bool) (bool, error)      { return false, serialfwd.ErrUnsupported }
func (l *loopback) SetRTS(bool) (bool, error)      { return false, serialfwd.ErrUnsupported }
func (l *loopback) Purge(bool, bool) error         { return nil }
func (l *loopback) ModemState() (serialfwd.ModemState, error) {
	return serialfwd.ModemState{}, serialfwd.ErrUnsupported
}

// Share a port over RFC 2217 and use it with the client: settings come back
// as the device applied them.
func Example() {
	srv := serialfwd.NewServer(nil)
	defer srv.Close()
	// The loopback has no modem lines; with real lines its refusal of DTR
	// reaches the client (the default, auto, would answer it virtually).
	srv.AddPort(serialfwd.PortConfig{
		Name:       "console",
		Open:       func(context.Context) (serialfwd.Device, error) { return newLoopback(), nil },
		ModemLines: serialfwd.ModemLinesReal,
	})
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(l, "console", serialfwd.ProtocolRFC2217)

	ctx := context.Background()
	c, err := serialfwd.Dial(ctx, l.Addr().String(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	mode, err := c.SetMode(ctx, serialfwd.Mode{BaudRate: 9600, DataBits: 7, Parity: serialfwd.ParityEven})
	fmt.Println(mode, err)

	dtr, err := c.SetDTR(ctx, true)
	fmt.Println("dtr:", dtr, errors.Is(err, serialfwd.ErrRefused))

	c.Write([]byte{'h', 'i', 0xFF})
	buf := make([]byte, 3)
	io.ReadFull(c, buf)
	fmt.Printf("%q\n", buf)
	// Output:
	// 9600 7E1 flow=none <nil>
	// dtr: false true
	// "hi\xff"
}

// Serve one connection that the embedder accepted and authenticated itself,
// with the principal for the authorisation hook.
func ExampleServer_ServeConn() {
	srv := serialfwd.NewServer(&serialfwd.ServerOptions{
		Authorize: func(ctx context.Context, req serialfwd.AuthRequest) error {
			fmt.Printf("authorise %v on %s over %v\n", req.Principal, req.Port, req.Protocol)
			if req.Principal != "alice" {
				return errors.New("not on the rota")
			}
			return nil
		},
	})
	defer srv.Close()
	srv.AddPort(serialfwd.PortConfig{
		Name: "plc1",
		Open: func(context.Context) (serialfwd.Device, error) { return newLoopback(), nil },
	})

	server, client := net.Pipe()
	go func() {
		client.Write([]byte("ping"))
		buf := make([]byte, 4)
		io.ReadFull(client, buf)
		fmt.Printf("client got %s\n", buf)
		client.Close()
	}()
	ctx := serialfwd.WithPrincipal(context.Background(), "alice")
	err := srv.ServeConn(ctx, server, "plc1", serialfwd.ProtocolRaw)
	fmt.Println("session ended:", err)

	server, client = net.Pipe()
	defer client.Close()
	err = srv.ServeConn(serialfwd.WithPrincipal(context.Background(), "mallory"), server, "plc1", serialfwd.ProtocolRaw)
	fmt.Println(errors.Is(err, serialfwd.ErrDenied), err)
	// Output:
	// authorise alice on plc1 over raw
	// client got ping
	// session ended: <nil>
	// authorise mallory on plc1 over raw
	// true serialfwd: access denied: not on the rota
}

package serialfwd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// connServer accepts connections on a fresh listener and hands each to
// ServeConn with the principal "user<N>", reporting ServeConn's result.
type connServer struct {
	srv     *Server
	addr    string
	results chan result
}

type result struct {
	principal any
	err       error
}

func newConnServer(t *testing.T, opts *ServerOptions, cfg PortConfig, proto Protocol) *connServer {
	t.Helper()
	cs := &connServer{srv: NewServer(opts), results: make(chan result, 16)}
	if err := cs.srv.AddPort(cfg); err != nil {
		t.Fatal(err)
	}
	l := listen(t)
	cs.addr = l.Addr().String()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; ; i++ {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := fmt.Sprintf("user%d", i)
				err := cs.srv.ServeConn(WithPrincipal(context.Background(), p), c, cfg.Name, proto)
				cs.results <- result{p, err}
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		cs.srv.Close()
		wg.Wait()
	})
	return cs
}

func (cs *connServer) next(t *testing.T) result {
	t.Helper()
	select {
	case r := <-cs.results:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("no session ended")
	}
	return result{}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitSessions waits until the port has n sessions.
func waitSessions(t *testing.T, srv *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ps := srv.Ports()
		if len(ps) == 1 && ps[0].Sessions == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("port has %+v sessions, want %d", ps, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func expectEOF(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("connection not closed cleanly: %v", err)
	}
}

func TestRawModeAllBytes(t *testing.T) {
	pp := newPtyPair(t)
	_, addr := serve(t, nil, PortConfig{Name: "pty", Open: SerialOpener(pp.A, Mode{BaudRate: 19200})}, ProtocolRaw)
	far, err := openSerial(pp.B, Mode{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	c := dial(t, addr)
	want := allBytes(64)
	go c.Write(want)
	if got := readFull(t, far, len(want), 10*time.Second); !bytes.Equal(got, want) {
		t.Fatal("raw mode changed the bytes to the device")
	}
	go far.Write(want)
	if got := readFull(t, c, len(want), 10*time.Second); !bytes.Equal(got, want) {
		t.Fatal("raw mode changed the bytes from the device")
	}
	if !contains(stty(t, pp.A), "speed 19200 baud") {
		t.Fatalf("configured mode not applied:\n%s", stty(t, pp.A))
	}
}

// TestExclusiveRace has two clients race for an exclusive port many times:
// exactly one wins each round, the other is refused with ErrPortBusy.
func TestExclusiveRace(t *testing.T) {
	pp := newPtyPair(t)
	cs := newConnServer(t, nil, PortConfig{Name: "pty", Open: SerialOpener(pp.A, Mode{})}, ProtocolRaw)
	for round := range 5 {
		var conns [2]net.Conn
		var wg sync.WaitGroup
		for i := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.Dial("tcp", cs.addr)
				if err != nil {
					t.Error(err)
					return
				}
				conns[i] = c
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		loser := cs.next(t)
		if !errors.Is(loser.err, ErrPortBusy) {
			t.Fatalf("round %d: first session to end: %v, want ErrPortBusy", round, loser.err)
		}
		waitSessions(t, cs.srv, 1)
		conns[0].Close()
		conns[1].Close()
		if winner := cs.next(t); winner.err != nil {
			t.Fatalf("round %d: winner ended with %v", round, winner.err)
		}
		waitSessions(t, cs.srv, 0)
	}
}

func TestExclusiveKick(t *testing.T) {
	pp := newPtyPair(t)
	cs := newConnServer(t, nil, PortConfig{Name: "pty", Open: SerialOpener(pp.A, Mode{}), Access: AccessExclusiveKick}, ProtocolRaw)
	far, err := openSerial(pp.B, Mode{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	first := dial(t, cs.addr)
	waitSessions(t, cs.srv, 1)
	second := dial(t, cs.addr)
	r := cs.next(t)
	if r.principal != "user1" || !errors.Is(r.err, ErrKicked) {
		t.Fatalf("got %v for %v, want user1 kicked", r.err, r.principal)
	}
	expectEOF(t, first)
	second.Write([]byte("from second"))
	if got := readFull(t, far, 11, 10*time.Second); string(got) != "from second" {
		t.Fatalf("device got %q", got)
	}
}

// TestSharedWatchers checks one writer plus a read-only watcher: both see
// the device's bytes; the watcher's writes and settings never reach it.
func TestSharedWatchers(t *testing.T) {
	pp := newPtyPair(t)
	cs := newConnServer(t, nil, PortConfig{Name: "pty", Open: SerialOpener(pp.A, Mode{}), Access: AccessShared}, ProtocolRFC2217)
	far, err := openSerial(pp.B, Mode{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	ctx := ctxTimeout(t, 30*time.Second)
	writer, err := Dial(ctx, cs.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	waitSessions(t, cs.srv, 1)
	watcher, err := Dial(ctx, cs.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	waitSessions(t, cs.srv, 2)

	watcher.Write([]byte("ignored"))
	if m, err := watcher.SetMode(ctx, Mode{BaudRate: 1200}); !errors.Is(err, ErrRefused) || m.BaudRate != 115200 {
		t.Fatalf("watcher SetMode: %v, %v; want refused, 115200", m, err)
	}
	writer.Write([]byte("mine"))
	if got := readFull(t, far, 4, 10*time.Second); string(got) != "mine" {
		t.Fatalf("device got %q, want only the writer's bytes", got)
	}
	want := allBytes(8)
	far.Write(want)
	for name, c := range map[string]*Client{"writer": writer, "watcher": watcher} {
		if got := readFull(t, c, len(want), 10*time.Second); !bytes.Equal(got, want) {
			t.Fatalf("%s saw different bytes", name)
		}
	}
	if st := stty(t, pp.A); !contains(st, "speed 115200 baud") {
		t.Fatalf("watcher changed the line:\n%s", st)
	}
}

// TestDeviceGoneAndBack closes the pty under a session (socat exits), checks
// the session ends with ErrDeviceGone, then brings the pty back and
// connects again.
func TestDeviceGoneAndBack(t *testing.T) {
	pp := newPtyPair(t)
	cs := newConnServer(t, nil, PortConfig{Name: "pty", Open: SerialOpener(pp.A, Mode{})}, ProtocolRaw)
	c := dial(t, cs.addr)
	waitSessions(t, cs.srv, 1)
	pp.stop()
	r := cs.next(t)
	if !errors.Is(r.err, ErrDeviceGone) {
		t.Fatalf("session ended with %v, want ErrDeviceGone", r.err)
	}
	expectEOF(t, c)

	// While the device is missing, clients are refused with a reason.
	dial(t, cs.addr)
	if r := cs.next(t); !errors.Is(r.err, ErrDeviceUnavailable) {
		t.Fatalf("connecting without the device: %v, want ErrDeviceUnavailable", r.err)
	}

	pp.start(t)
	far, err := openSerial(pp.B, Mode{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	c2 := dial(t, cs.addr)
	c2.Write([]byte("back"))
	if got := readFull(t, far, 4, 10*time.Second); string(got) != "back" {
		t.Fatalf("device got %q after coming back", got)
	}
}

func TestIdleTimeout(t *testing.T) {
	pp := newPtyPair(t)
	cs := newConnServer(t, nil, PortConfig{Name: "pty", Open: SerialOpener(pp.A, Mode{}), IdleTimeout: 100 * time.Millisecond}, ProtocolRaw)
	c := dial(t, cs.addr)
	if r := cs.next(t); !errors.Is(r.err, ErrIdle) {
		t.Fatalf("got %v, want ErrIdle", r.err)
	}
	expectEOF(t, c)
}

// TestAuthorize checks the hook sees the principal and the port, and that a
// refusal closes the connection before any byte reaches the device.
func TestAuthorize(t *testing.T) {
	pp := newPtyPair(t)
	var mu sync.Mutex
	var seen []AuthRequest
	opts := &ServerOptions{Authorize: func(ctx context.Context, req AuthRequest) error {
		mu.Lock()
		seen = append(seen, req)
		mu.Unlock()
		if req.Principal != "user2" {
			return errors.New("policy says no")
		}
		return nil
	}}
	cs := newConnServer(t, opts, PortConfig{Name: "plc", Open: SerialOpener(pp.A, Mode{})}, ProtocolRaw)
	c := dial(t, cs.addr)
	r := cs.next(t)
	if !errors.Is(r.err, ErrDenied) || !strings.Contains(r.err.Error(), "policy says no") {
		t.Fatalf("got %v, want ErrDenied with the hook's reason", r.err)
	}
	expectEOF(t, c)
	c2 := dial(t, cs.addr)
	waitSessions(t, cs.srv, 1)
	c2.Close()
	if r := cs.next(t); r.err != nil || r.principal != "user2" {
		t.Fatalf("allowed session: %+v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0].Port != "plc" || seen[0].Principal != "user1" || seen[1].Principal != "user2" || seen[0].Remote == nil {
		t.Fatalf("hook saw %+v", seen)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSessionLog(t *testing.T) {
	pp := newPtyPair(t)
	var log syncBuffer
	cs := newConnServer(t, nil, PortConfig{Name: "pty", Open: SerialOpener(pp.A, Mode{}), SessionLog: NewTextSessionLog(&log)}, ProtocolRaw)
	far, err := openSerial(pp.B, Mode{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	c := dial(t, cs.addr)
	c.Write([]byte("hi"))
	readFull(t, far, 2, 10*time.Second)
	far.Write([]byte("yo"))
	readFull(t, c, 2, 10*time.Second)
	c.Close()
	cs.next(t)
	got := log.String()
	for _, w := range []string{"port=pty principal=user1 to-device 2 6869\n", "port=pty principal=user1 from-device 2 796f\n"} {
		if !strings.Contains(got, w) {
			t.Errorf("session log lacks %q:\n%s", w, got)
		}
	}
}

// TestBadTelnetInput sends malformed telnet: the session ends with
// ErrProtocol and the port serves the next client.
func TestBadTelnetInput(t *testing.T) {
	pp := newPtyPair(t)
	cs := newConnServer(t, nil, PortConfig{Name: "pty", Open: SerialOpener(pp.A, Mode{})}, ProtocolRFC2217)
	c := dial(t, cs.addr)
	bad := append([]byte{tnIAC, tnSB, optComPort}, bytes.Repeat([]byte{1}, 2*maxSubnegotiation)...)
	c.Write(bad)
	if r := cs.next(t); !errors.Is(r.err, ErrProtocol) {
		t.Fatalf("got %v, want ErrProtocol", r.err)
	}
	// Malformed COM-PORT-OPTION messages are ignored without ending it.
	ctx := ctxTimeout(t, 10*time.Second)
	cl, err := Dial(ctx, cs.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	cl.sendRaw([]byte{tnIAC, tnSB, optComPort, cpSetBaudRate, 1, tnIAC, tnSE, tnIAC, tnSB, optComPort, 99, tnIAC, tnSE})
	if m, err := cl.SetMode(ctx, Mode{BaudRate: 2400}); err != nil || m.BaudRate != 2400 {
		t.Fatalf("after malformed input: %v, %v", m, err)
	}
}

// TestFlowControlSuspend checks the server holds device data while the
// client has suspended the flow, and delivers it all after RESUME.
func TestFlowControlSuspend(t *testing.T) {
	pp := newPtyPair(t)
	_, addr := serve(t, nil, PortConfig{Name: "pty", Open: SerialOpener(pp.A, Mode{})}, ProtocolRFC2217)
	far, err := openSerial(pp.B, Mode{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	ctx := ctxTimeout(t, 10*time.Second)
	c, err := Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.sendRaw(appendComPort(nil, cpFlowControlSuspend, 0))
	// A settings round trip orders the suspension before the data below.
	if _, err := c.SetMode(ctx, Mode{BaudRate: 9600}); err != nil {
		t.Fatal(err)
	}
	far.Write([]byte("held"))
	// The bytes are held: nothing arrives while suspended. (The bytes must
	// reach the server first; a short wait is enough for that and the
	// assertion only fails if they leak through.)
	time.Sleep(100 * time.Millisecond)
	c.mu.Lock()
	early := len(c.rbuf)
	c.mu.Unlock()
	if early != 0 {
		t.Fatalf("%d bytes delivered while suspended", early)
	}
	c.sendRaw(appendComPort(nil, cpFlowControlResume, 0))
	if got := readFull(t, c, 4, 10*time.Second); string(got) != "held" {
		t.Fatalf("after resume got %q", got)
	}
}

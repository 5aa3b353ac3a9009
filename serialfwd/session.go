package serialfwd

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Role is what a session may do on its port.
type Role int

const (
	// RoleWriter reads and writes the port and changes its settings.
	RoleWriter Role = iota
	// RoleWatcher only reads (AccessShared).
	RoleWatcher
)

func (r Role) String() string {
	if r == RoleWatcher {
		return "watcher"
	}
	return "writer"
}

// SessionInfo describes one connection to a port.
type SessionInfo struct {
	ID        uint64   // unique within the Server
	Port      string   // PortConfig.Name
	Principal any      // from WithPrincipal; nil if none
	Protocol  Protocol // raw or RFC 2217
	Role      Role     // writer or watcher
	Remote    net.Addr // the connection's remote address
	Started   time.Time
}

// maxWriteBatch bounds how much queued device data one network write
// gathers.
const maxWriteBatch = 64 << 10

// session is one connection to a port. Its reader loop runs in ServeConn's
// goroutine; output to the network runs in a goroutine of its own so that
// device data and control replies flow while the reader blocks.
type session struct {
	p     *port
	conn  net.Conn
	info  SessionInfo
	attrs sessionAttrs // set by attach once the role is known

	queue    chan []byte   // device data for this session (bounded)
	done     chan struct{} // closed by stop
	stopOnce sync.Once
	reason   error // set before done is closed

	wmu  sync.Mutex // guards conn writes, wbuf, sock and netPending
	wbuf []byte
	// sock is set when the device loop serves the connection (see
	// startDirect); writes then never block and what the socket does not
	// take waits in netPending.
	sock       *sockFD
	netPending []byte

	flowMu    sync.Mutex // guards suspended and resume
	suspended bool
	resume    chan struct{}

	lastActive atomic.Int64 // unix nanoseconds of the last byte either way
	comPort    atomic.Bool  // the client agreed to COM-PORT-OPTION
	modemMask  atomic.Uint32
	lineMask   atomic.Uint32

	// Used by the reader loop only: the session's own goroutine, or the
	// device loop once startDirect has handed the connection over.
	dec    telnetDecoder
	neg    negotiator
	out    []byte
	looped bool   // the device loop reads the connection
	toDev  []byte // looped: input not yet written to the device
	eof    bool   // looped: the client has closed its side
}

func newSession(p *port, c net.Conn, info SessionInfo) *session {
	s := &session{
		p: p, conn: c, info: info,
		queue: make(chan []byte, p.cfg.QueueChunks),
		done:  make(chan struct{}),
	}
	s.modemMask.Store(0xFF)
	for _, o := range []byte{optBinary, optSGA, optComPort} {
		s.neg.supported[o] = true
	}
	s.touch()
	return s
}

func (s *session) touch() { s.lastActive.Store(time.Now().UnixNano()) }

// stop ends the session with reason; the first reason wins.
func (s *session) stop(reason error) {
	s.stopOnce.Do(func() {
		s.reason = reason
		close(s.done)
		// Wake the device loop first: Close waits until it no longer
		// polls the descriptor, and it polls until woken.
		s.p.wakeLoop()
		s.conn.Close()
		s.wmu.Lock()
		sock := s.sock
		s.wmu.Unlock()
		if sock != nil {
			sock.Close()
		}
	})
}

// stopped reports whether the session has ended.
func (s *session) stopped() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// run serves the connection until it ends and returns why.
func (s *session) run(ctx context.Context) error {
	m := s.p.srv.metrics
	m.active.Add(ctx, 1, s.attrs.session)
	defer m.active.Add(context.Background(), -1, s.attrs.session)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.output()
	}()
	stopCtx := context.AfterFunc(ctx, func() { s.stop(ctx.Err()) })
	defer stopCtx()
	if idle := s.p.cfg.IdleTimeout; idle > 0 {
		var t *time.Timer
		t = time.AfterFunc(idle, func() {
			left := idle - time.Since(time.Unix(0, s.lastActive.Load()))
			if left <= 0 {
				s.stop(ErrIdle)
				return
			}
			t.Reset(left)
		})
		defer t.Stop()
	}
	if s.info.Protocol == ProtocolRFC2217 {
		var b []byte
		b = s.neg.request(b, true, optBinary)
		b = s.neg.request(b, false, optBinary)
		b = s.neg.request(b, true, optSGA)
		b = s.neg.request(b, false, optSGA)
		b = s.neg.request(b, false, optComPort)
		s.send(b)
	}
	if s.startDirect() {
		<-s.done
		wg.Wait()
		return s.reason
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := s.conn.Read(buf)
		if n > 0 {
			s.touch()
			if perr := s.input(buf[:n]); perr != nil {
				s.stop(perr)
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				s.stop(nil)
			} else {
				s.stop(err)
			}
			break
		}
	}
	<-s.done
	wg.Wait()
	return s.reason
}

// input handles bytes from the network.
func (s *session) input(p []byte) error {
	if s.info.Protocol == ProtocolRaw {
		return s.toDevice(p)
	}
	s.out = s.out[:0]
	err := s.dec.decode(p, func(data []byte) error {
		// Send pending replies first, so that they keep their order with
		// the effects of data on the device.
		if len(s.out) > 0 {
			s.send(s.out)
			s.out = s.out[:0]
		}
		return s.toDevice(data)
	}, func(ev telnetEvent) error {
		// Data before a command reaches the device before the command
		// acts on it.
		if len(s.toDev) > 0 {
			err := s.p.write(s, s.toDev)
			s.toDev = s.toDev[:0]
			if err != nil {
				return err
			}
		}
		return s.command(ev)
	})
	if len(s.out) > 0 {
		s.send(s.out)
	}
	return err
}

func (s *session) toDevice(data []byte) error {
	if s.info.Role == RoleWatcher {
		return nil
	}
	if l := s.p.cfg.SessionLog; l != nil {
		l.Log(s.info, ToDevice, data)
	}
	s.p.srv.metrics.bytes.Add(context.Background(), int64(len(data)), s.attrs.toDevice...)
	if s.looped {
		// The device loop writes it without blocking.
		s.toDev = append(s.toDev, data...)
		return nil
	}
	return s.p.write(s, data)
}

// deliver queues device data for this session.
func (s *session) deliver(ctx context.Context, chunk []byte) {
	if s.info.Role == RoleWatcher {
		select {
		case s.queue <- chunk:
		case <-s.done:
		default:
			s.stop(ErrSlowWatcher)
		}
		return
	}
	select {
	case s.queue <- chunk:
	case <-s.done:
	case <-ctx.Done():
	}
}

// writeDirect writes device data to the network from the device reader
// goroutine, waiting while the client has suspended the flow.
func (s *session) writeDirect(data []byte) {
	if !s.waitResumed() {
		return
	}
	s.touch()
	if l := s.p.cfg.SessionLog; l != nil {
		l.Log(s.info, FromDevice, data)
	}
	if err := s.writeData(data); err != nil {
		s.stop(nil)
	}
}

func (s *session) writeData(data []byte) error {
	s.p.srv.metrics.bytes.Add(context.Background(), int64(len(data)), s.attrs.fromDevice...)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.info.Protocol == ProtocolRaw {
		return writeFull(s.conn, data)
	}
	s.wbuf = appendEscaped(s.wbuf[:0], data)
	return writeFull(s.conn, s.wbuf)
}

// output writes queued device data to the network (watchers).
func (s *session) output() {
	var batch []byte
	for {
		var chunk []byte
		select {
		case <-s.done:
			return
		case chunk = <-s.queue:
		}
		if !s.waitResumed() {
			return
		}
		// Gather what else is queued into one write.
		data := chunk
	gather:
		for len(data) < maxWriteBatch {
			select {
			case more := <-s.queue:
				if len(batch) == 0 || &data[0] != &batch[0] {
					batch = append(batch[:0], data...)
				}
				batch = append(batch, more...)
				data = batch
			default:
				break gather
			}
		}
		s.touch()
		if l := s.p.cfg.SessionLog; l != nil {
			l.Log(s.info, FromDevice, data)
		}
		if err := s.writeData(data); err != nil {
			s.stop(nil)
			return
		}
	}
}

// waitResumed blocks while the client has suspended the data flow
// (FLOWCONTROL-SUSPEND); false means the session ended.
func (s *session) waitResumed() bool {
	s.flowMu.Lock()
	if !s.suspended {
		s.flowMu.Unlock()
		return true
	}
	ch := s.resume
	s.flowMu.Unlock()
	select {
	case <-ch:
		return true
	case <-s.done:
		return false
	}
}

// isSuspended reports whether the client has suspended the data flow.
func (s *session) isSuspended() bool {
	s.flowMu.Lock()
	defer s.flowMu.Unlock()
	return s.suspended
}

func (s *session) setSuspended(on bool) {
	s.flowMu.Lock()
	defer s.flowMu.Unlock()
	if on == s.suspended {
		return
	}
	s.suspended = on
	if on {
		s.resume = make(chan struct{})
	} else {
		close(s.resume)
	}
}

// send writes telnet control bytes to the network.
func (s *session) send(b []byte) {
	if len(b) == 0 {
		return
	}
	s.wmu.Lock()
	var err error
	if s.sock != nil {
		err = s.writeNetLocked(b)
	} else {
		err = writeFull(s.conn, b)
	}
	pending := len(s.netPending) > 0
	s.wmu.Unlock()
	if err != nil {
		s.stop(nil)
	}
	if pending {
		s.p.wakeLoop() // to wait until the socket takes the rest
	}
}

// drainQueue discards device data queued for this session (PURGE-DATA).
func (s *session) drainQueue() {
	for {
		select {
		case <-s.queue:
		default:
			return
		}
	}
}

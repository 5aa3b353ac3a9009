package usbip

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// session is the URB phase of one import: a reader that decodes commands,
// one worker goroutine per endpoint that runs its URBs in order, and a
// writer that sends replies in the order they were queued.
type session struct {
	srv  *Server
	exp  *export
	conn net.Conn
	dev  Device
	info atomic.Pointer[DeviceInfo] // refreshed after SET_CONFIGURATION/SET_INTERFACE

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when run has released everything

	mu           sync.Mutex // guards the fields below; taken before w.mu
	inflight     map[uint32]*urb
	pending      int
	pendingBytes int
	queues       map[uint8]chan *urb
	workers      sync.WaitGroup

	w replyWriter
}

// urb is one CMD_SUBMIT in flight.
type urb struct {
	cmd      command
	ctx      context.Context
	cancel   context.CancelFunc
	unlinked bool // guarded by session.mu: RET_UNLINK sent, suppress RET_SUBMIT
}

func newSession(srv *Server, e *export, conn net.Conn, info DeviceInfo) *session {
	s := &session{
		srv:      srv,
		exp:      e,
		conn:     conn,
		dev:      e.dev,
		done:     make(chan struct{}),
		inflight: map[uint32]*urb{},
		queues:   map[uint8]chan *urb{},
	}
	s.info.Store(&info)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.w.cond = sync.NewCond(&s.w.mu)
	return s
}

// stop disconnects the importer; run then unwinds. The connection closes
// before the transfers are cancelled, so the cancellations never reach the
// wire as RET_SUBMITs.
func (s *session) stop() {
	s.conn.Close()
	s.cancel()
}

// run serves URBs until the connection ends or the peer breaks the
// protocol, then cancels every outstanding transfer, waits for the workers
// and the writer, and resets the device the way the kernel's stub does
// when its importer goes away.
func (s *session) run() error {
	defer close(s.done)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		if err := s.w.run(s.conn); err != nil {
			s.stop()
		}
	}()
	err := s.readLoop()
	s.stop()
	s.mu.Lock()
	for _, q := range s.queues {
		close(q)
	}
	s.queues = nil
	s.mu.Unlock()
	s.workers.Wait()
	s.w.close()
	<-writerDone
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	if rerr := s.dev.Reset(ctx); rerr != nil {
		s.srv.log.Debug("usbip: reset after release", "busid", s.exp.busID, "err", rerr)
	}
	cancel()
	return err
}

func (s *session) lookup(addr uint8) (TransferType, bool) {
	info := s.info.Load()
	ep, ok := info.Endpoint(addr)
	return ep.Type, ok
}

func (s *session) readLoop() error {
	br := bufio.NewReaderSize(s.conn, 64<<10)
	o := &s.srv.opts
	var hb [headerLen]byte
	for {
		if _, err := io.ReadFull(br, hb[:]); err != nil {
			return err
		}
		c, err := parseCommand(hb[:], o.MaxTransferSize, s.lookup)
		if err != nil {
			return err
		}
		if c.kind == cmdUnlink {
			s.unlink(c)
			continue
		}
		s.mu.Lock()
		_, dup := s.inflight[c.seq]
		over := s.pending+1 > o.MaxInFlight || s.pendingBytes+c.length > o.MaxInFlightBytes
		if !dup && !over {
			s.pending++
			s.pendingBytes += c.length
		}
		s.mu.Unlock()
		switch {
		case dup:
			return protoErr("seqnum %d already in flight", c.seq)
		case over:
			return protoErr("more than %d URBs or %d bytes in flight", o.MaxInFlight, o.MaxInFlightBytes)
		}
		buf := getBuf(c.length)
		if err := readCommandBody(br, &c, buf); err != nil {
			putBuf(buf)
			return err
		}
		u := &urb{cmd: c}
		u.ctx, u.cancel = context.WithCancel(s.ctx)
		key := c.ep
		if c.typ == TransferControl {
			key = 0 // both directions of endpoint 0 are one pipe
		}
		s.mu.Lock()
		s.inflight[c.seq] = u
		q, ok := s.queues[key]
		if !ok {
			// Buffered to MaxInFlight, so this send never blocks: the
			// reader must stay free to read UNLINKs.
			q = make(chan *urb, o.MaxInFlight)
			s.queues[key] = q
			s.workers.Add(1)
			go s.worker(q)
		}
		q <- u
		s.mu.Unlock()
	}
}

// unlink answers CMD_UNLINK: −ECONNRESET and no RET_SUBMIT if the URB is
// still outstanding, 0 if its RET_SUBMIT has already been queued (and so
// goes out first).
func (s *session) unlink(c command) {
	hb := make([]byte, headerLen)
	s.mu.Lock()
	defer s.mu.Unlock()
	status := StatusOK
	if u, ok := s.inflight[c.victim]; ok {
		u.unlinked = true
		delete(s.inflight, c.victim)
		u.cancel()
		status = StatusConnReset
	}
	putRetUnlink(hb, c.seq, status)
	s.w.enqueue(hb)
}

func (s *session) worker(q chan *urb) {
	defer s.workers.Done()
	for u := range q {
		var n int
		var err error
		if u.ctx.Err() != nil {
			err = u.ctx.Err()
		} else {
			n, err = s.execute(u)
		}
		s.complete(u, n, err)
		u.cancel()
	}
}

func (s *session) execute(u *urb) (int, error) {
	c := &u.cmd
	switch c.typ {
	case TransferControl:
		if c.setup.IsPortReset() {
			err := s.dev.Reset(u.ctx)
			s.refreshInfo()
			return 0, err
		}
		n, err := s.dev.Control(u.ctx, c.setup, c.data)
		if err == nil && c.setup.RequestType&0x60 == RequestTypeStandard &&
			(c.setup.Request == RequestSetConfiguration || c.setup.Request == RequestSetInterface) {
			s.refreshInfo()
		}
		return n, err
	case TransferIsochronous:
		return s.dev.Isochronous(u.ctx, c.ep, c.data, c.iso)
	}
	return s.dev.Transfer(u.ctx, c.ep, c.data)
}

func (s *session) refreshInfo() {
	info := s.dev.Info()
	s.info.Store(&info)
}

// complete queues the RET_SUBMIT for u unless UNLINK got there first.
func (s *session) complete(u *urb, n int, err error) {
	c := &u.cmd
	status := StatusOf(err)
	n = max(0, min(n, len(c.data)))
	hb := make([]byte, headerLen)
	bufs := [][]byte{hb}
	in := c.ep&0x80 != 0
	if c.typ == TransferIsochronous {
		total, errCount := 0, 0
		for i := range c.iso {
			p := &c.iso[i]
			p.ActualLength = min(p.ActualLength, p.Length)
			if p.Status != 0 {
				errCount++
			}
			if in && p.ActualLength > 0 {
				bufs = append(bufs, c.data[p.Offset:p.Offset+p.ActualLength])
			}
			total += int(p.ActualLength)
		}
		desc := make([]byte, len(c.iso)*isoDescLen)
		putIsoPackets(desc, c.iso)
		bufs = append(bufs, desc)
		putRetSubmit(hb, c.seq, status, total, c.start, len(c.iso), errCount)
	} else {
		putRetSubmit(hb, c.seq, status, n, 0, 0, 0)
		if in && n > 0 {
			bufs = append(bufs, c.data[:n])
		}
	}
	moved := n
	if c.typ == TransferIsochronous {
		moved = int(binary.BigEndian.Uint32(hb[24:]))
	}
	s.srv.tel.urb(c.typ, in, moved, status)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending--
	s.pendingBytes -= c.length
	if u.unlinked {
		putBuf(c.data)
		return
	}
	delete(s.inflight, c.seq)
	s.w.enqueueRelease(c.data, bufs...)
}

// replyWriter sends queued replies from one goroutine, coalescing whatever
// has queued up into one flush.
type replyWriter struct {
	mu      sync.Mutex
	cond    *sync.Cond
	q       [][]byte
	release [][]byte // pooled buffers to return once q is written
	closed  bool
}

func (w *replyWriter) enqueue(bufs ...[]byte) {
	w.enqueueRelease(nil, bufs...)
}

// enqueueRelease queues bufs and, once they are written, returns pooled
// to the buffer pool.
func (w *replyWriter) enqueueRelease(pooled []byte, bufs ...[]byte) {
	w.mu.Lock()
	if !w.closed {
		w.q = append(w.q, bufs...)
		if pooled != nil {
			w.release = append(w.release, pooled)
		}
		w.cond.Signal()
	}
	w.mu.Unlock()
}

func (w *replyWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.cond.Signal()
	w.mu.Unlock()
}

func (w *replyWriter) run(conn net.Conn) error {
	bw := bufio.NewWriterSize(conn, 64<<10)
	var batch, release [][]byte
	for {
		w.mu.Lock()
		for len(w.q) == 0 && !w.closed {
			w.cond.Wait()
		}
		if len(w.q) == 0 {
			w.mu.Unlock()
			return nil
		}
		batch, w.q = w.q, batch[:0]
		release, w.release = w.release, release[:0]
		w.mu.Unlock()
		for _, b := range batch {
			if _, err := bw.Write(b); err != nil {
				return fmt.Errorf("usbip: write reply: %w", err)
			}
		}
		clear(batch)
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("usbip: write reply: %w", err)
		}
		for _, b := range release {
			putBuf(b)
		}
		clear(release)
	}
}

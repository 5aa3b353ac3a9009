package ztna

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gonaut/gonaut/policy"
)

// streamFlow is an admitted flow of a tcp or udp resource (or of a serial
// port on a connector, whose bytes pass through to the connector's serial
// server): its upstream connection, dialed before the flow was accepted,
// and the limits it holds.
type streamFlow struct {
	g   *Gateway
	st  *state
	d   decision
	up  net.Conn
	u   *upstream
	res *resource
}

// admitStream decides a flow to a stream resource and, when allowed,
// takes its flow limits and dials its upstream.
func (g *Gateway) admitStream(ctx context.Context, q *accessQuery) (decision, admission) {
	sf := &streamFlow{g: g, st: q.st, res: q.res}
	if q.res.cfg.Connector != "" {
		q.facts = func(r *policy.Resource) error { return g.connectorFacts(q.res, r) }
	}
	q.flow = true
	q.connect = func(ctx context.Context, a *access) (string, error) {
		up, u, err := q.res.pool.connect(ctx)
		if err != nil {
			return "", err
		}
		sf.up, sf.u = up, u
		return u.addr, nil
	}
	sf.d = g.decide(ctx, q)
	if sf.d.why != nil {
		return sf.d, nil
	}
	return sf.d, sf
}

func (sf *streamFlow) abort() {
	sf.up.Close()
	sf.release()
}

func (sf *streamFlow) release() {
	sf.u.active.Add(-1)
	sf.st.limits.release(sf.d.a.id)
}

// serve splices the peer's connection to the upstream until the flow
// ends, and records it.
func (sf *streamFlow) serve(ctx context.Context, conn net.Conn) {
	defer sf.release()
	g, a := sf.g, sf.d.a
	conn = throttle(conn, sf.d.bw)
	lf := &liveFlow{a: a, req: sf.d.req, hasReq: true, start: time.Now(), maxSession: sf.d.obligations.MaxSession,
		conns: []net.Conn{conn, sf.up}, rule: sf.d.rule, upstream: sf.u.addr}
	g.flows.add(lf)
	in, out := splice(conn, sf.up, sf.res.cfg.IdleTimeout, sf.res.cfg.Kind == KindUDP)
	g.endFlow(lf, in, out, nil)
}

// Splice buffers. A direction of a flow waits for data with a small
// buffer and borrows a large one only while reads fill the small one, so
// that a thousand idle flows hold 4 MiB of buffers, not 64.
var (
	copyBufs  = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
	smallBufs = sync.Pool{New: func() any { b := make([]byte, 2<<10); return &b }}
)

// copyAdaptive copies src to dst until EOF or an error, as io.Copy does,
// switching between a small and a large buffer with the size of reads.
// With packets (a UDP flow, where a read shorter than a datagram
// truncates it) it reads into the large buffer only.
func copyAdaptive(dst io.Writer, src io.Reader, packets bool) (written int64, err error) {
	small := smallBufs.Get().(*[]byte)
	defer smallBufs.Put(small)
	var big *[]byte
	defer func() {
		if big != nil {
			copyBufs.Put(big)
		}
	}()
	buf := *small
	if packets {
		big = copyBufs.Get().(*[]byte)
		buf = *big
	}
	for {
		nr, er := src.Read(buf)
		if nr > 0 {
			nw, ew := dst.Write(buf[:nr])
			if nw < 0 || nw > nr {
				nw, ew = 0, errors.New("invalid write result")
			}
			written += int64(nw)
			if ew != nil {
				return written, ew
			}
			if nw != nr {
				return written, io.ErrShortWrite
			}
		}
		if er != nil {
			if er == io.EOF {
				return written, nil
			}
			return written, er
		}
		switch {
		case big == nil && nr == len(buf):
			big = copyBufs.Get().(*[]byte)
			buf = *big
		case big != nil && nr < len(*small) && !packets:
			copyBufs.Put(big)
			big, buf = nil, *small
		}
	}
}

type closeWriter interface{ CloseWrite() error }

// splice copies between the peer's connection and the upstream until both
// directions end or either connection is closed, and returns the bytes
// each way. idle > 0 closes both after that long without a byte either
// way; packets says the connections carry datagrams (a udp flow).
func splice(peer, up net.Conn, idle time.Duration, packets bool) (in, out uint64) {
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	copyDir := func(dst, src net.Conn, n *uint64) {
		var w io.Writer = dst
		if idle > 0 {
			w = touchWriter{w: w, last: &last}
		}
		c, err := copyAdaptive(w, src, packets)
		*n = uint64(c)
		if cw, ok := dst.(closeWriter); ok && err == nil {
			cw.CloseWrite()
		} else {
			dst.Close()
			src.Close()
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyDir(peer, up, &out)
	}()
	if idle > 0 {
		// One timer per flow, not a goroutine: it fires when the flow may
		// have gone idle and re-arms itself for the rest if it has not.
		var mu sync.Mutex
		var t *time.Timer // guarded by mu, like stopped
		stopped := false
		mu.Lock()
		t = time.AfterFunc(idle, func() {
			mu.Lock()
			defer mu.Unlock()
			if stopped {
				return
			}
			if rest := idle - time.Since(time.Unix(0, last.Load())); rest > 0 {
				t.Reset(rest)
				return
			}
			peer.Close()
			up.Close()
		})
		mu.Unlock()
		defer func() {
			mu.Lock()
			stopped = true
			t.Stop()
			mu.Unlock()
		}()
	}
	copyDir(up, peer, &in)
	<-done
	peer.Close()
	up.Close()
	return in, out
}

type touchWriter struct {
	w    io.Writer
	last *atomic.Int64
}

func (t touchWriter) Write(p []byte) (int, error) {
	t.last.Store(time.Now().UnixNano())
	return t.w.Write(p)
}

package ztna

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

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

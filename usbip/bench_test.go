package usbip_test

import (
	"context"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/gonaut/gonaut/usbip"
	"github.com/gonaut/gonaut/usbip/sim"
)

// echoPeer is the reference for round trips and throughput: plain Go TCP
// over the same loopback, no USB/IP. It echoes fixed-size messages, or
// sinks a stream.
func echoPeer(tb testing.TB, reqLen, respLen int) net.Conn {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		defer c.Close()
		req, resp := make([]byte, reqLen), make([]byte, respLen)
		for {
			if _, err := io.ReadFull(c, req); err != nil {
				return
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	}()
	c := dial(tb, ln.Addr().String())
	tb.Cleanup(func() { c.Close(); <-done })
	return c
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// BenchmarkControlRoundTrip measures a GET_STATUS control transfer (48+8
// bytes out, 48+2 back) through client, loopback TCP, server and simulated
// device, interleaved with the same exchange over plain TCP as reference.
func BenchmarkControlRoundTrip(b *testing.B) {
	srv := startServer(b, nil, sim.NewKeyboard("K"))
	d := importDev(b, srv.addr, "1-1")
	ref := echoPeer(b, 48, 50)
	ctx := context.Background()
	st := make([]byte, 2)
	setup := usbip.Setup{RequestType: 0x80, Request: usbip.RequestGetStatus, Length: 2}
	req, resp := make([]byte, 48), make([]byte, 50)
	lat := make([]time.Duration, 0, b.N)
	refLat := make([]time.Duration, 0, b.N)
	var cpu time.Duration
	b.ResetTimer()
	// Blocks of 100 alternate between USB/IP and the reference, so both
	// see the same machine load.
	for i := 0; i < b.N; i += 100 {
		k := min(100, b.N-i)
		c0 := cpuTime()
		for range k {
			t0 := time.Now()
			if _, err := d.Control(ctx, setup, st); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		cpu += cpuTime() - c0
		for range k {
			t0 := time.Now()
			ref.Write(req)
			if _, err := io.ReadFull(ref, resp); err != nil {
				b.Fatal(err)
			}
			refLat = append(refLat, time.Since(t0))
		}
	}
	b.StopTimer()
	med, refMed := percentile(lat, 0.5), percentile(refLat, 0.5)
	b.ReportMetric(float64(med.Nanoseconds())/1e3, "median-µs")
	b.ReportMetric(float64(percentile(lat, 0.99).Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(float64(refMed.Nanoseconds())/1e3, "tcp-median-µs")
	b.ReportMetric(float64(med)/float64(refMed), "x-tcp")
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
}

// benchStorage moves 64 KiB READ(10) or WRITE(10) commands to the
// simulated mass-storage device with depth commands (3 URBs each) in
// flight, then streams the same number of bytes over plain loopback TCP
// as reference.
func benchStorage(b *testing.B, write bool, depth int) {
	const chunk = 64 << 10
	const disk = 32 << 20
	msc := sim.NewStorage("M", disk)
	srv := startServer(b, nil, msc)
	d := importDev(b, srv.addr, "1-1")
	setConfig(b, d, 1)
	host := &bot{d: d}
	ctx := context.Background()
	bufs := make([][]byte, depth)
	for i := range bufs {
		bufs[i] = make([]byte, chunk)
	}
	op := byte(0x28)
	if write {
		op = 0x2a
	}
	b.SetBytes(chunk)
	b.ResetTimer()
	start := time.Now()
	cpu0 := cpuTime()
	var inflight []*pendingCmd
	for i := range b.N {
		lba := uint32(i*chunk%disk) / sim.BlockSize
		p, err := host.start(ctx, rw10(op, lba, chunk/sim.BlockSize), bufs[i%depth], !write)
		if err != nil {
			b.Fatal(err)
		}
		inflight = append(inflight, p)
		if len(inflight) == depth {
			if n, st, err := inflight[0].wait(); err != nil || st != 0 || n != chunk {
				b.Fatalf("n=%d st=%d err=%v", n, st, err)
			}
			inflight = inflight[1:]
		}
	}
	for _, p := range inflight {
		if _, _, err := p.wait(); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	total := float64(b.N) * chunk
	mbps := total / elapsed.Seconds() / 1e6

	// Reference: the same bytes as one plain TCP stream (sink replies
	// with one byte at the end).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.CopyN(io.Discard, c, int64(total))
		c.Write([]byte{1})
	}()
	c := dial(b, ln.Addr().String())
	defer c.Close()
	t0 := time.Now()
	for range b.N {
		c.Write(bufs[0])
	}
	io.ReadFull(c, make([]byte, 1))
	refMBps := total / time.Since(t0).Seconds() / 1e6
	b.ReportMetric(mbps, "MB/s")
	b.ReportMetric(refMBps, "tcp-MB/s")
	b.ReportMetric(mbps/refMBps, "x-tcp")
	b.ReportMetric(cpu.Seconds()/(total/1e9), "cpu-s/GB")
}

func BenchmarkStorageRead(b *testing.B) {
	for _, depth := range []int{1, 16} {
		b.Run("depth="+itoa(depth), func(b *testing.B) { benchStorage(b, false, depth) })
	}
}

func BenchmarkStorageWrite(b *testing.B) {
	for _, depth := range []int{1, 16} {
		b.Run("depth="+itoa(depth), func(b *testing.B) { benchStorage(b, true, depth) })
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

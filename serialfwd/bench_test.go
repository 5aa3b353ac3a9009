package serialfwd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The comparison benchmarks put the Gonaut server and Debian ser2net
// (chardelay false) side by side in one run, each in front of its own socat
// pty pair, and measure with the same clients: a plain TCP connection in raw
// mode, the Gonaut RFC 2217 client in RFC 2217 mode. The Gonaut server runs
// twice: as its own process (gonaut-proc, examples/serial-share, the fair
// comparison with ser2net, whose CPU time is read from /proc the same way)
// and embedded in the benchmark's process (gonaut).
//
//	go test -run '^$' -bench Forwarding -benchtime 2s -count 3 ./serialfwd/
//
// Sub-benchmark names are direction/mode/server:
//   - to-device: the client streams 32 KiB blocks, the far pty end counts;
//     reports MB/s.
//   - from-device: the far pty end streams, the client counts; MB/s.
//   - rtt: one byte out, echoed by the far pty end, one byte back; reports
//     the median and 99th percentile in microseconds.

type benchTarget struct {
	name             string
	rawAddr, rfcAddr string
	rawFar, rfcFar   Device // the far pty end behind each address
	rawPid, rfcPid   int    // server processes whose CPU time is reported; 0 for in-process
}

func (t benchTarget) pid(rfc bool) int {
	if rfc {
		return t.rfcPid
	}
	return t.rawPid
}

func (t benchTarget) far(rfc bool) Device {
	if rfc {
		return t.rfcFar
	}
	return t.rawFar
}

func setupGonautTarget(b *testing.B) benchTarget {
	pp := newPtyPair(b)
	srv := NewServer(nil)
	b.Cleanup(func() { srv.Close() })
	// Kick mode: a benchmark's connection replaces the previous one even
	// if that one is still being torn down.
	if err := srv.AddPort(PortConfig{Name: "pty", Open: SerialOpener(pp.A, Mode{}), Access: AccessExclusiveKick}); err != nil {
		b.Fatal(err)
	}
	lraw, lrfc := listen(b), listen(b)
	go srv.Serve(lraw, "pty", ProtocolRaw)
	go srv.Serve(lrfc, "pty", ProtocolRFC2217)
	far, err := openSerial(pp.B, Mode{}, false)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { far.Close() })
	return benchTarget{name: "gonaut", rawAddr: lraw.Addr().String(), rfcAddr: lrfc.Addr().String(), rawFar: far, rfcFar: far}
}

func setupSer2netTarget(b *testing.B) benchTarget {
	// ser2net locks the tty (UUCP lock file) per connection: give the raw
	// and the RFC 2217 accepter a pty pair each so that one releasing the
	// tty never races the other taking it.
	t := benchTarget{name: "ser2net"}
	for _, rfc := range []bool{false, true} {
		pp := newPtyPair(b)
		addr, pid := startSer2netProc(b, pp.A, rfc)
		far, err := openSerial(pp.B, Mode{}, false)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { far.Close() })
		if rfc {
			t.rfcAddr, t.rfcFar, t.rfcPid = addr, far, pid
		} else {
			t.rawAddr, t.rawFar, t.rawPid = addr, far, pid
		}
	}
	return t
}

// setupGonautProcTarget runs the Gonaut server as its own process
// (examples/serial-share), one per mode like ser2net, so that its CPU time
// can be measured the same way.
func setupGonautProcTarget(b *testing.B) benchTarget {
	bin := filepath.Join(b.TempDir(), "serial-share")
	if out, err := exec.Command("go", "build", "-o", bin, "../examples/serial-share").CombinedOutput(); err != nil {
		b.Fatalf("build serial-share: %v\n%s", err, out)
	}
	t := benchTarget{name: "gonaut-proc"}
	for _, rfc := range []bool{false, true} {
		pp := newPtyPair(b)
		mode := "raw"
		if rfc {
			mode = "rfc2217"
		}
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(b))
		cmd := exec.Command(bin, "-port", pp.A, "-listen", addr, "-mode", mode, "-access", "kick")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			c, err := netDialer.Dial("tcp", addr)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("serial-share did not listen on %s", addr)
			}
		}
		far, err := openSerial(pp.B, Mode{}, false)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { far.Close() })
		if rfc {
			t.rfcAddr, t.rfcFar, t.rfcPid = addr, far, cmd.Process.Pid
		} else {
			t.rawAddr, t.rawFar, t.rawPid = addr, far, cmd.Process.Pid
		}
	}
	return t
}

// procCPU returns the user+system CPU time a process has used.
func procCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of the whole line, in clock ticks (USER_HZ = 100).
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// benchConn dials the target in the given mode.
func benchConn(b *testing.B, t benchTarget, rfc bool) io.ReadWriteCloser {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var c io.ReadWriteCloser
	var err error
	if rfc {
		c, err = Dial(ctx, t.rfcAddr, nil)
	} else {
		var nc net.Conn
		nc, err = netDialer.DialContext(ctx, "tcp", t.rawAddr)
		c = nc
	}
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func BenchmarkForwarding(b *testing.B) {
	targets := []benchTarget{setupSer2netTarget(b), setupGonautProcTarget(b), setupGonautTarget(b)}
	for _, dir := range []string{"to-device", "from-device", "rtt"} {
		for _, mode := range []string{"raw", "rfc2217"} {
			for _, t := range targets {
				b.Run(fmt.Sprintf("%s/%s/%s", dir, mode, t.name), func(b *testing.B) {
					c := benchConn(b, t, mode == "rfc2217")
					defer c.Close()
					far := t.far(mode == "rfc2217")
					benchSync(b, c, far)
					if pid := t.pid(mode == "rfc2217"); pid != 0 {
						cpu0 := procCPU(b, pid)
						defer func() {
							cpu := procCPU(b, pid) - cpu0
							b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "server-cpu-µs/op")
						}()
					}
					switch dir {
					case "to-device":
						benchStream(b, c, far)
					case "from-device":
						benchStream(b, far, c)
					case "rtt":
						benchRTT(b, c, far)
					}
				})
			}
		}
	}
}

// benchStream writes b.N blocks to w and waits until r has read them all.
func benchStream(b *testing.B, w io.Writer, r io.Reader) {
	const block = 32 << 10
	buf := make([]byte, block)
	for i := range buf {
		buf[i] = byte(i) // includes 0xFF: RFC 2217 mode escapes it
	}
	b.SetBytes(block)
	total := int64(b.N) * block
	done := make(chan error, 1)
	b.ResetTimer()
	go func() {
		rb := make([]byte, 64<<10)
		var got int64
		for got < total {
			n, err := r.Read(rb[:min(int64(len(rb)), total-got)])
			got += int64(n)
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range b.N {
		if err := writeFull(w, buf); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			b.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		b.Fatal("stream stalled")
	}
	b.StopTimer()
	b.ReportMetric(float64(total)/b.Elapsed().Seconds()/1e6, "MB/s")
}

// benchRTT measures one-byte round trips through the far end's echo.
func benchRTT(b *testing.B, c io.ReadWriter, far Device) {
	n := b.N
	echoDone := make(chan error, 1)
	go func() {
		one := make([]byte, 1)
		for range n {
			if _, err := io.ReadFull(far, one); err != nil {
				echoDone <- err
				return
			}
			if _, err := far.Write(one); err != nil {
				echoDone <- err
				return
			}
		}
		echoDone <- nil
	}()
	samples := make([]time.Duration, 0, n)
	out, in := []byte{0x55}, make([]byte, 1)
	b.ResetTimer()
	for range n {
		start := time.Now()
		if _, err := c.Write(out); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, in); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
	}
	b.StopTimer()
	if err := <-echoDone; err != nil {
		b.Fatal(err)
	}
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(samples[len(samples)*99/100].Microseconds()), "p99-µs")
}

// benchSync makes one round trip so that the server has opened the device
// (ser2net flushes the tty's input when it opens it) before measuring.
func benchSync(b *testing.B, c io.ReadWriter, far Device) {
	one := make([]byte, 1)
	if _, err := c.Write([]byte{1}); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(far, one); err != nil {
		b.Fatal(err)
	}
	if _, err := far.Write([]byte{2}); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(c, one); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRTTInterleaved alternates one-byte round trips between ser2net
// and the Gonaut server (examples/serial-share), each its own process in
// front of its own socat pty pair, so that both see the same machine load at
// the same moments: on a shared, noisy machine this is the fairest latency
// comparison. Each b.N is one round trip through each server, in turn
// Gonaut first and ser2net first so that neither always follows the other.
// It reports each server's p50, p99 and p99.9 in microseconds and CPU time
// per round trip, and the ratio Gonaut/ser2net of each (below 1: Gonaut is
// faster). The tail needs many samples:
//
//	go test -run '^$' -bench RTTInterleaved -benchtime 20000x -count 5 ./serialfwd/
func BenchmarkRTTInterleaved(b *testing.B) {
	targets := []benchTarget{setupSer2netTarget(b), setupGonautProcTarget(b)}
	for _, mode := range []string{"raw", "rfc2217"} {
		b.Run(mode, func(b *testing.B) {
			rfc := mode == "rfc2217"
			conns := make([]io.ReadWriteCloser, len(targets))
			for i, t := range targets {
				conns[i] = benchConn(b, t, rfc)
				defer conns[i].Close()
				benchSync(b, conns[i], t.far(rfc))
			}
			n := b.N
			echoErr := make(chan error, len(targets))
			for _, t := range targets {
				far := t.far(rfc)
				go func() {
					one := make([]byte, 1)
					for range n {
						if _, err := io.ReadFull(far, one); err != nil {
							echoErr <- err
							return
						}
						if _, err := far.Write(one); err != nil {
							echoErr <- err
							return
						}
					}
					echoErr <- nil
				}()
			}
			samples := make([][]time.Duration, len(targets))
			for i := range samples {
				samples[i] = make([]time.Duration, 0, n)
			}
			out, in := []byte{0x55}, make([]byte, 1)
			cpu0 := make([]time.Duration, len(targets))
			for i, t := range targets {
				cpu0[i] = procCPU(b, t.pid(rfc))
			}
			b.ResetTimer()
			for k := range n {
				for j := range conns {
					i := (j + k) % len(conns) // alternate who goes first
					c := conns[i]
					start := time.Now()
					if _, err := c.Write(out); err != nil {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(c, in); err != nil {
						b.Fatal(err)
					}
					samples[i] = append(samples[i], time.Since(start))
				}
			}
			b.StopTimer()
			cpu := make([]float64, len(targets))
			for i, t := range targets {
				cpu[i] = float64((procCPU(b, t.pid(rfc)) - cpu0[i]).Microseconds()) / float64(n)
			}
			for range targets {
				if err := <-echoErr; err != nil {
					b.Fatal(err)
				}
			}
			q := make([][3]float64, len(targets))
			for i := range targets {
				s := samples[i]
				slices.Sort(s)
				for j, at := range []int{len(s) / 2, len(s) * 99 / 100, len(s) * 999 / 1000} {
					q[i][j] = float64(s[at].Nanoseconds()) / 1e3
				}
			}
			// targets[0] is ser2net, targets[1] Gonaut.
			for i, t := range targets {
				b.ReportMetric(q[i][0], t.name+"-p50-µs")
				b.ReportMetric(q[i][1], t.name+"-p99-µs")
				b.ReportMetric(q[i][2], t.name+"-p99.9-µs")
				b.ReportMetric(cpu[i], t.name+"-cpu-µs/op")
			}
			b.ReportMetric(q[1][0]/q[0][0], "ratio-p50")
			b.ReportMetric(q[1][1]/q[0][1], "ratio-p99")
			b.ReportMetric(q[1][2]/q[0][2], "ratio-p99.9")
			if cpu[0] > 0 {
				b.ReportMetric(cpu[1]/cpu[0], "ratio-cpu")
			}
		})
	}
}

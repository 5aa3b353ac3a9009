package ztna_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonaut/gonaut/tunnel"
	"github.com/gonaut/gonaut/ztna"
)

// benchWorld is a gateway with an echo, a sink and an HTTP resource, and
// alice's client.
type benchWorld struct {
	*world
	g            *ztna.Gateway
	alice        *ztna.Client
	echo, sink   string // upstream addresses
	web          string
	echoV, sinkV string // virtual addresses
}

func newBenchWorld(b *testing.B) *benchWorld {
	bw := &benchWorld{world: newWorld(b)}
	bw.echo, bw.sink = echoServer(b), sinkServer(b)
	bw.web = httpServer(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	bw.cfg.AuditFile = "" // measure the gateway, not the disk
	bw.cfg.Resources = []ztna.ResourceConfig{
		{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{bw.echo}},
		{Name: "sink.corp", Kind: "tcp", Port: 9, Upstreams: []string{bw.sink}},
		{Name: "wiki.corp", Kind: "http", Upstreams: []string{bw.web}},
	}
	bw.g = bw.start(b, nil)
	bw.alice = bw.client(b, bw.g, "alice")
	if _, err := bw.alice.Up(context.Background()); err != nil {
		b.Fatal(err)
	}
	for _, r := range bw.g.Resources() {
		switch r.Name {
		case "echo.corp":
			bw.echoV = netip.AddrPortFrom(r.Address, uint16(r.Port)).String()
		case "sink.corp":
			bw.sinkV = netip.AddrPortFrom(r.Address, uint16(r.Port)).String()
		}
	}
	return bw
}

// sinkServer reads and discards everything, then answers with the byte
// count when the writer half-closes.
func sinkServer(tb testing.TB) string {
	tb.Helper()
	return tcpServer(tb, func(c net.Conn) {
		n, _ := io.Copy(io.Discard, c)
		fmt.Fprintf(c, "%d\n", n)
	})
}

// tunnelPair is the reference for what WireGuard and the two netstacks
// cost without the gateway: a client tunnel peered with a server tunnel
// that serves echo (7), sink (9) and HTTP (80) itself.
func tunnelPair(b *testing.B) (cli *tunnel.Tunnel) {
	ctx := context.Background()
	srvKey, cliKey := mustKey(b), mustKey(b)
	srv, err := tunnel.New(ctx, tunnel.Config{PrivateKey: srvKey, Addresses: []netip.Prefix{netip.MustParsePrefix("10.99.0.1/32")}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	cli, err = tunnel.New(ctx, tunnel.Config{PrivateKey: cliKey, Addresses: []netip.Prefix{netip.MustParsePrefix("10.99.0.2/32")},
		Peers: []tunnel.PeerConfig{{PublicKey: srvKey.PublicKey(), Endpoint: fmt.Sprintf("127.0.0.1:%d", srv.ListenPort()), AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.99.0.1/32")}}}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cli.Close() })
	srv.SetPeer(ctx, tunnel.PeerConfig{PublicKey: cliKey.PublicKey(), AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.99.0.2/32")}})
	serve := func(port int, h func(net.Conn)) {
		ln, err := srv.Listen("tcp", fmt.Sprintf("10.99.0.1:%d", port))
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go h(c)
			}
		}()
	}
	serve(7, func(c net.Conn) { io.Copy(c, c); c.Close() })
	serve(9, func(c net.Conn) {
		n, _ := io.Copy(io.Discard, c)
		fmt.Fprintf(c, "%d\n", n)
		c.Close()
	})
	hl, err := srv.Listen("tcp", "10.99.0.1:80")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go hs.Serve(hl)
	b.Cleanup(func() { hs.Close() })
	return cli
}

// cpuTime is the CPU time the whole process has used so far: client,
// tunnels, gateway and upstreams share it, so a per-operation figure is
// what one operation costs end to end, whatever else loads the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process CPU time per operation since start.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "CPU-µs/op")
}

func percentiles(b *testing.B, d []time.Duration, prefix string) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Microseconds()), prefix+"p50-µs")
	b.ReportMetric(float64(d[len(d)*99/100].Microseconds()), prefix+"p99-µs")
}

// BenchmarkHTTPRequest is one HTTP request on an established keep-alive
// connection: directly to the upstream on loopback, and through the
// tunnel and the gateway (policy decision per request, identity
// assertion, proxy).
func BenchmarkHTTPRequest(b *testing.B) {
	bw := newBenchWorld(b)
	run := func(b *testing.B, hc *http.Client, url string) {
		defer hc.CloseIdleConnections()
		get := func() {
			resp, err := hc.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
		get() // establish the connection
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		cpu0 := cpuTime()
		for range b.N {
			t0 := time.Now()
			get()
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		reportCPU(b, cpu0)
		percentiles(b, lat, "")
	}
	b.Run("direct", func(b *testing.B) { run(b, &http.Client{Transport: &http.Transport{}}, "http://"+bw.web+"/") })
	b.Run("tunnel", func(b *testing.B) { run(b, tunnelPair(b).HTTPClient(), "http://10.99.0.1/") })
	b.Run("gateway", func(b *testing.B) { run(b, bw.alice.HTTPClient(), "http://wiki.corp/") })
}

// BenchmarkConnect is a fresh TCP connection and one echoed byte: directly
// to the upstream, and through the gateway (flow interception, identity,
// policy, upstream dial, splice).
func BenchmarkConnect(b *testing.B) {
	bw := newBenchWorld(b)
	ctx := context.Background()
	run := func(b *testing.B, dial func() (net.Conn, error)) {
		lat := make([]time.Duration, 0, b.N)
		one := make([]byte, 1)
		b.ResetTimer()
		cpu0 := cpuTime()
		for range b.N {
			t0 := time.Now()
			c, err := dial()
			if err != nil {
				b.Fatal(err)
			}
			c.Write(one)
			if _, err := io.ReadFull(c, one); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
			c.Close()
		}
		b.StopTimer()
		reportCPU(b, cpu0)
		percentiles(b, lat, "")
	}
	b.Run("direct", func(b *testing.B) {
		run(b, func() (net.Conn, error) { return net.Dial("tcp", bw.echo) })
	})
	b.Run("tunnel", func(b *testing.B) {
		cli := tunnelPair(b)
		run(b, func() (net.Conn, error) { return cli.Dial(ctx, "tcp", "10.99.0.1:7") })
	})
	b.Run("gateway", func(b *testing.B) {
		run(b, func() (net.Conn, error) { return bw.alice.Dial(ctx, "tcp", bw.echoV) })
	})
}

// namedOp is one way of doing an operation, timed by interleave.
type namedOp struct {
	name string
	op   func(b *testing.B)
}

// interleave runs one of each op per iteration, in turn, so that every
// path sees the same load, and reports each one's p50 and p99 and the
// last one's median added over the first's.
func interleave(b *testing.B, ops []namedOp) {
	lat := make([][]time.Duration, len(ops))
	for _, o := range ops {
		o.op(b) // warm up
	}
	b.ResetTimer()
	for range b.N {
		for i, o := range ops {
			t0 := time.Now()
			o.op(b)
			lat[i] = append(lat[i], time.Since(t0))
		}
	}
	b.StopTimer()
	for i, o := range ops {
		percentiles(b, lat[i], o.name+"-")
	}
	last := len(ops) - 1
	b.ReportMetric(float64((lat[last][len(lat[last])/2] - lat[0][len(lat[0])/2]).Microseconds()), "added-p50-µs")
}

// BenchmarkInterleaved runs the HTTP request and fresh connection of
// BenchmarkHTTPRequest and BenchmarkConnect directly, through a bare
// tunnel and through the gateway in turn, iteration by iteration, so
// that load from elsewhere falls on all three alike.
func BenchmarkInterleaved(b *testing.B) {
	bw := newBenchWorld(b)
	cli := tunnelPair(b)
	ctx := context.Background()
	get := func(hc *http.Client, url string) func(b *testing.B) {
		return func(b *testing.B) {
			resp, err := hc.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	}
	echo := func(dial func() (net.Conn, error)) func(b *testing.B) {
		one := make([]byte, 1)
		return func(b *testing.B) {
			c, err := dial()
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			c.Write(one)
			if _, err := io.ReadFull(c, one); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("http", func(b *testing.B) {
		direct, tun, gw := &http.Client{Transport: &http.Transport{}}, cli.HTTPClient(), bw.alice.HTTPClient()
		defer direct.CloseIdleConnections()
		defer tun.CloseIdleConnections()
		defer gw.CloseIdleConnections()
		interleave(b, []namedOp{
			{"direct", get(direct, "http://"+bw.web+"/")},
			{"tunnel", get(tun, "http://10.99.0.1/")},
			{"gateway", get(gw, "http://wiki.corp/")},
		})
	})
	b.Run("connect", func(b *testing.B) {
		interleave(b, []namedOp{
			{"direct", echo(func() (net.Conn, error) { return net.Dial("tcp", bw.echo) })},
			{"tunnel", echo(func() (net.Conn, error) { return cli.Dial(ctx, "tcp", "10.99.0.1:7") })},
			{"gateway", echo(func() (net.Conn, error) { return bw.alice.Dial(ctx, "tcp", bw.echoV) })},
		})
	})
}

// BenchmarkNewFlows opens and closes authorised flows from 16 goroutines
// and reports flows per second and the process's CPU time per flow,
// through the gateway and, as references, directly to the loopback echo
// upstream (what the gateway's own upstream leg costs the kernel and the
// upstream) and through a bare tunnel to an echo server inside the peer's
// netstack. Client, tunnels, gateway and
// upstream share the process, so CPU per flow is the end-to-end cost; the
// flow rate is bounded by whatever share of the machine the process gets.
func BenchmarkNewFlows(b *testing.B) {
	bw := newBenchWorld(b)
	ctx := context.Background()
	run := func(b *testing.B, dial func() (net.Conn, error)) {
		b.SetParallelism(8)
		t0, cpu0 := time.Now(), cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			one := make([]byte, 1)
			for pb.Next() {
				c, err := dial()
				if err != nil {
					b.Error(err)
					return
				}
				c.Write(one)
				io.ReadFull(c, one)
				c.Close()
			}
		})
		reportCPU(b, cpu0)
		b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "flows/s")
	}
	b.Run("direct", func(b *testing.B) {
		run(b, func() (net.Conn, error) { return net.Dial("tcp", bw.echo) })
	})
	b.Run("tunnel", func(b *testing.B) {
		cli := tunnelPair(b)
		run(b, func() (net.Conn, error) { return cli.Dial(ctx, "tcp", "10.99.0.1:7") })
	})
	b.Run("gateway", func(b *testing.B) {
		run(b, func() (net.Conn, error) { return bw.alice.Dial(ctx, "tcp", bw.echoV) })
	})
}

// BenchmarkIdleFlows holds 1,000 established, idle flows open and reports
// the heap and stacks and the goroutines each costs the process (client,
// tunnels, gateway and upstream together), through the gateway and
// through a bare tunnel to an echo server inside the peer's netstack.
func BenchmarkIdleFlows(b *testing.B) {
	const n = 1000
	bw := newBenchWorld(b)
	ctx := context.Background()
	run := func(b *testing.B, dial func() (net.Conn, error)) {
		for range b.N {
			mem := func() (uint64, int) {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				return ms.HeapInuse + ms.StackInuse, runtime.NumGoroutine()
			}
			m0, g0 := mem()
			conns := make([]net.Conn, 0, n)
			one := make([]byte, 1)
			for range n {
				c, err := dial()
				if err != nil {
					b.Fatal(err)
				}
				c.Write(one)
				if _, err := io.ReadFull(c, one); err != nil {
					b.Fatal(err)
				}
				conns = append(conns, c)
			}
			time.Sleep(100 * time.Millisecond) // let the last flows settle
			m1, g1 := mem()
			b.ReportMetric(float64(m1-m0)/n/1024, "KiB/flow")
			b.ReportMetric(float64(g1-g0)/n, "goroutines/flow")
			for _, c := range conns {
				c.Close()
			}
		}
	}
	b.Run("tunnel", func(b *testing.B) {
		cli := tunnelPair(b)
		run(b, func() (net.Conn, error) { return cli.Dial(ctx, "tcp", "10.99.0.1:7") })
	})
	b.Run("gateway", func(b *testing.B) {
		run(b, func() (net.Conn, error) { return bw.alice.Dial(ctx, "tcp", bw.echoV) })
	})
}

// BenchmarkThroughput moves 32 MiB per op one way: through the gateway to
// a loopback sink, and through a bare tunnel to a listener inside the peer
// tunnel (the reference: what the gateway adds on top of WireGuard).
func BenchmarkThroughput(b *testing.B) {
	bw := newBenchWorld(b)
	ctx := context.Background()
	const size = 32 << 20
	buf := make([]byte, 256<<10)
	send := func(b *testing.B, dial func() (net.Conn, error)) {
		b.SetBytes(size)
		cpu0 := cpuTime()
		defer func() { b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N*size>>20), "CPU-µs/MiB") }()
		for range b.N {
			c, err := dial()
			if err != nil {
				b.Fatal(err)
			}
			for n := 0; n < size; n += len(buf) {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			c.(interface{ CloseWrite() error }).CloseWrite()
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || strings.TrimSpace(line) != strconv.Itoa(size) {
				b.Fatalf("sink got %q %v", line, err)
			}
			c.Close()
		}
	}
	b.Run("tunnel", func(b *testing.B) {
		cli := tunnelPair(b)
		send(b, func() (net.Conn, error) { return cli.Dial(ctx, "tcp", "10.99.0.1:9") })
	})
	b.Run("gateway", func(b *testing.B) {
		send(b, func() (net.Conn, error) { return bw.alice.Dial(ctx, "tcp", bw.sinkV) })
	})
}

// BenchmarkGatewayRSS starts a gateway with 1,000 and 10,000 configured
// idle peers in a fresh process and reports its resident memory.
func BenchmarkGatewayRSS(b *testing.B) {
	for _, eager := range []bool{false, true} {
		for _, n := range []int{1000, 10000} {
			b.Run(fmt.Sprintf("peers=%d/eager=%t", n, eager), func(b *testing.B) {
				for range b.N {
					cmd := exec.Command(os.Args[0], "-test.run=^TestGatewayRSSHelper$", "-test.count=1")
					cmd.Env = append(os.Environ(), fmt.Sprintf("GONAUT_RSS_PEERS=%d", n), fmt.Sprintf("GONAUT_RSS_EAGER=%t", eager))
					out, err := cmd.CombinedOutput()
					if err != nil {
						b.Fatalf("%v\n%s", err, out)
					}
					var base, rss float64
					if _, err := fmt.Sscanf(string(out[strings.Index(string(out), "rss "):]), "rss %f %f", &base, &rss); err != nil {
						b.Fatalf("helper said %q", out)
					}
					b.ReportMetric(rss, "RSS-MiB")
					b.ReportMetric(rss-base, "added-MiB")
				}
			})
		}
	}
}

// TestGatewayRSSHelper is BenchmarkGatewayRSS's child process.
func TestGatewayRSSHelper(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("GONAUT_RSS_PEERS"))
	if n == 0 {
		t.Skip("helper process of BenchmarkGatewayRSS")
	}
	runtime.GC()
	base := rssMiB()
	cfg := &ztna.Config{PrivateKey: mustKey(t).String(), Address: "10.77.0.1/16", Users: []ztna.UserConfig{{ID: "u"}}}
	for i := range n {
		a := netip.AddrFrom4([4]byte{10, 77, byte(1 + i/250), byte(1 + i%250)})
		cfg.Devices = append(cfg.Devices, ztna.DeviceConfig{ID: fmt.Sprint("d", i), User: "u", PublicKey: mustKey(t).PublicKey().String(), Address: a.String()})
	}
	cfg.Resources = []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{"127.0.0.1:7"}}}
	g, err := ztna.New(context.Background(), cfg, &ztna.Options{EagerPeers: os.Getenv("GONAUT_RSS_EAGER") == "true"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	cfg = nil
	runtime.GC()
	time.Sleep(200 * time.Millisecond)
	fmt.Printf("rss %.1f %.1f\n", base, rssMiB())
}

func rssMiB() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.ParseFloat(strings.Fields(l)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

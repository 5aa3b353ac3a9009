package tunnel_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonaut/gonaut/tunnel"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun/netstack"
)

// cpuTime is the process's user+system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// path is one way of carrying a TCP connection: dial returns the client
// end, and accept the server end, of a fresh connection.
type path struct {
	name   string
	listen func() (net.Listener, error)
	dial   func(ctx context.Context) (net.Conn, error)
}

// transfer sends n bytes from a new client connection to the server end
// and returns the wall and process CPU time until the server has read
// them all.
func transfer(tb testing.TB, p path, l net.Listener, n int64) (wall, cpu time.Duration) {
	tb.Helper()
	got := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- err
			return
		}
		defer c.Close()
		_, err = io.CopyN(io.Discard, c, n)
		got <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := p.dial(ctx)
	if err != nil {
		tb.Fatalf("%s: dial: %v", p.name, err)
	}
	defer c.Close()
	buf := make([]byte, 128<<10)
	c0, t0 := cpuTime(tb), time.Now()
	for sent := int64(0); sent < n; {
		m := min(int64(len(buf)), n-sent)
		if _, err := c.Write(buf[:m]); err != nil {
			tb.Fatalf("%s: write: %v", p.name, err)
		}
		sent += m
	}
	if err := <-got; err != nil {
		tb.Fatalf("%s: read: %v", p.name, err)
	}
	return time.Since(t0), cpuTime(tb) - c0
}

func rawPath(tb testing.TB) path {
	return path{
		name:   "raw",
		listen: func() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") },
	}
}

// stockPair is two wireguard-go devices on netstack.CreateNetTUN (the
// channel endpoint) over loopback UDP: the reference the issue measures
// against.
func stockPair(tb testing.TB) (client, server *netstack.Net) {
	tb.Helper()
	ka, kb := mustKey(tb), mustKey(tb)
	mk := func(addr string) (*device.Device, *netstack.Net) {
		tdev, tnet, err := netstack.CreateNetTUN([]netip.Addr{netip.MustParseAddr(addr)}, nil, 1420)
		if err != nil {
			tb.Fatal(err)
		}
		dev := device.NewDevice(tdev, conn.NewDefaultBind(), device.NewLogger(device.LogLevelSilent, ""))
		tb.Cleanup(dev.Close)
		return dev, tnet
	}
	da, na := mk("10.98.0.1")
	db, nb := mk("10.98.0.2")
	hex := func(k tunnel.Key) string { return fmt.Sprintf("%x", k[:]) }
	if err := db.IpcSet(fmt.Sprintf("private_key=%s\nlisten_port=0\npublic_key=%s\nallowed_ip=10.98.0.1/32\n", hex(kb), hex(ka.PublicKey()))); err != nil {
		tb.Fatal(err)
	}
	db.Up()
	st, _ := db.IpcGet()
	var port string
	for _, line := range strings.Split(st, "\n") {
		if v, ok := strings.CutPrefix(line, "listen_port="); ok {
			port = v
		}
	}
	if err := da.IpcSet(fmt.Sprintf("private_key=%s\nlisten_port=0\npublic_key=%s\nendpoint=127.0.0.1:%s\nallowed_ip=10.98.0.2/32\n", hex(ka), hex(kb.PublicKey()), port)); err != nil {
		tb.Fatal(err)
	}
	da.Up()
	return na, nb
}

// BenchmarkThroughput moves bulk TCP data one way over three paths side by
// side, interleaved in every iteration so that machine noise hits them
// alike: raw loopback TCP, the stock wireguard-go netstack pair
// (CreateNetTUN) and a Gonaut tunnel pair, both over loopback UDP with MTU
// 1420. It reports Gbit/s and process CPU-seconds per GiB for each, and
// the Gonaut/stock throughput ratio.
func BenchmarkThroughput(b *testing.B) {
	const chunk = 256 << 20
	sa, sb := stockPair(b)
	ga, gb := newPair(b, nil, nil)
	paths := []path{
		rawPath(b),
		{
			name:   "stock",
			listen: func() (net.Listener, error) { return sb.ListenTCPAddrPort(netip.MustParseAddrPort("10.98.0.2:5001")) },
			dial: func(ctx context.Context) (net.Conn, error) {
				return sa.DialContextTCPAddrPort(ctx, netip.MustParseAddrPort("10.98.0.2:5001"))
			},
		},
		{
			name:   "gonaut",
			listen: func() (net.Listener, error) { return gb.Listen("tcp", ":5001") },
			dial: func(ctx context.Context) (net.Conn, error) {
				return ga.Dial(ctx, "tcp", netip.AddrPortFrom(gb.v4, 5001).String())
			},
		},
	}
	listeners := make([]net.Listener, len(paths))
	for i := range paths {
		l, err := paths[i].listen()
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		listeners[i] = l
		if paths[i].name == "raw" {
			addr := l.Addr().String()
			paths[i].dial = func(ctx context.Context) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "tcp", addr)
			}
		}
		transfer(b, paths[i], l, 8<<20) // handshake and warm-up
	}
	wall := make([]time.Duration, len(paths))
	cpu := make([]time.Duration, len(paths))
	b.SetBytes(chunk)
	b.ResetTimer()
	for range b.N {
		for i, p := range paths {
			w, c := transfer(b, p, listeners[i], chunk)
			wall[i] += w
			cpu[i] += c
		}
	}
	b.StopTimer()
	gib := float64(chunk) * float64(b.N) / (1 << 30)
	for i, p := range paths {
		b.ReportMetric(gib*8*(1<<30)/1e9/wall[i].Seconds(), p.name+"-Gbit/s")
		b.ReportMetric(cpu[i].Seconds()/gib, p.name+"-CPU-s/GiB")
	}
	b.ReportMetric(wall[1].Seconds()/wall[2].Seconds(), "gonaut/stock-x")
}

// BenchmarkTunnelTCP is the Gonaut path of BenchmarkThroughput alone, for
// profiling (-cpuprofile).
func BenchmarkTunnelTCP(b *testing.B) {
	const chunk = 64 << 20
	ga, gb := newPair(b, nil, nil)
	l, err := gb.Listen("tcp", ":5001")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	p := path{name: "gonaut", dial: func(ctx context.Context) (net.Conn, error) {
		return ga.Dial(ctx, "tcp", netip.AddrPortFrom(gb.v4, 5001).String())
	}}
	transfer(b, p, l, 8<<20)
	b.SetBytes(chunk)
	b.ResetTimer()
	var cpu time.Duration
	for range b.N {
		_, c := transfer(b, p, l, chunk)
		cpu += c
	}
	b.ReportMetric(cpu.Seconds()/(float64(chunk)*float64(b.N)/(1<<30)), "CPU-s/GiB")
}

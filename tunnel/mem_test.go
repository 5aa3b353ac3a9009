package tunnel_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/tunnel"
)

// rssBytes reads the process's resident set size from /proc.
func rssBytes(tb testing.TB) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		tb.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestIdlePeersChild is the child process of BenchmarkIdlePeers: with
// GONAUT_MEM_PEERS set it starts one tunnel with that many idle peers in a
// fresh process and prints its heap and RSS.
func TestIdlePeersChild(t *testing.T) {
	s := os.Getenv("GONAUT_MEM_PEERS")
	if s == "" {
		t.Skip("run by BenchmarkIdlePeers")
	}
	n, _ := strconv.Atoi(s)
	cfg := tunnel.Config{
		PrivateKey: mustKey(t),
		Addresses:  []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")},
	}
	for i := range n {
		cfg.Peers = append(cfg.Peers, tunnel.PeerConfig{
			PublicKey:  mustKey(t).PublicKey(),
			Endpoint:   fmt.Sprintf("127.0.0.1:%d", 10000+i%50000),
			AllowedIPs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1 + byte(i>>16), byte(i >> 8), byte(i)}), 32)},
		})
	}
	tun, err := tunnel.New(context.Background(), cfg, &tunnel.Options{EagerPeers: os.Getenv("GONAUT_MEM_LAZY") != "1"})
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	cfg.Peers = nil // only the tunnel's own copy stays
	time.Sleep(time.Second)
	heap := heapAlloc()
	fmt.Printf("MEM peers=%d heap=%d rss=%d\n", n, heap, rssBytes(t))
}

// BenchmarkIdlePeers reports the live heap and the resident set size of
// a fresh process holding one tunnel with 1, 1,000 and 10,000 configured,
// idle peers, with every peer loaded into wireguard-go (Options.EagerPeers)
// and loaded lazily (the default). Each measurement runs in a child process (this test
// binary) so that nothing else is in its memory.
func BenchmarkIdlePeers(b *testing.B) {
	for _, lazy := range []bool{false, true} {
		for _, n := range []int{1, 1000, 10000} {
			mode := "eager"
			if lazy {
				mode = "lazy"
			}
			b.Run(fmt.Sprintf("%s/peers=%d", mode, n), func(b *testing.B) { idlePeers(b, n, lazy) })
		}
	}
}

func idlePeers(b *testing.B, n int, lazy bool) {
	{
		{
			var heap, rss float64
			for range b.N {
				cmd := exec.Command(os.Args[0], "-test.run=^TestIdlePeersChild$", "-test.v")
				cmd.Env = append(os.Environ(), fmt.Sprintf("GONAUT_MEM_PEERS=%d", n), fmt.Sprintf("GONAUT_MEM_LAZY=%d", map[bool]int{false: 0, true: 1}[lazy]))
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("child: %v\n%s", err, out)
				}
				var h, r uint64
				var pn int
				for _, line := range strings.Split(string(out), "\n") {
					if strings.HasPrefix(line, "MEM ") {
						fmt.Sscanf(line, "MEM peers=%d heap=%d rss=%d", &pn, &h, &r)
					}
				}
				if h == 0 || r == 0 {
					b.Fatalf("child printed no figures:\n%s", out)
				}
				heap += float64(h)
				rss += float64(r)
			}
			b.ReportMetric(heap/float64(b.N)/(1<<20), "heap-MiB")
			b.ReportMetric(rss/float64(b.N)/(1<<20), "RSS-MiB")
		}
	}
}

// BenchmarkPerConnection reports the live heap per open, idle TCP
// connection through a tunnel pair, both ends counted (both live in this
// process). RSS is not reported: in a process that has freed memory
// before, its deltas say more about the allocator than about the tunnel.
func BenchmarkPerConnection(b *testing.B) {
	const conns = 500
	var heapPer float64
	for range b.N {
		a := newNode(b, 1, nil)
		srv := newNode(b, 2, nil)
		connect(b, a, srv)
		l, err := srv.Listen("tcp", ":6000")
		if err != nil {
			b.Fatal(err)
		}
		accepted := make(chan net.Conn, conns)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				accepted <- c
			}
		}()
		// One connection first, so that the handshake and the stack's
		// lazily built state are not counted.
		warm, err := a.Dial(testCtx(b, 20*time.Second), "tcp", netip.AddrPortFrom(srv.v4, 6000).String())
		if err != nil {
			b.Fatal(err)
		}
		open := []net.Conn{warm, <-accepted}
		h0 := heapAlloc()
		for range conns {
			c, err := a.Dial(testCtx(b, 20*time.Second), "tcp", netip.AddrPortFrom(srv.v4, 6000).String())
			if err != nil {
				b.Fatal(err)
			}
			c.Write([]byte("x"))
			s := <-accepted
			io.ReadFull(s, make([]byte, 1))
			open = append(open, c, s)
		}
		heapPer += (float64(heapAlloc()) - float64(h0)) / conns
		for _, c := range open {
			c.Close()
		}
		l.Close()
		a.Close()
		srv.Close()
	}
	b.ReportMetric(heapPer/float64(b.N)/1024, "heap-KiB/conn")
}

// BenchmarkFirstByte measures handshake-to-first-byte latency for a fresh
// peer: every iteration starts a new client tunnel with a new key and a new
// inner address, adds it to the server as a peer, and times Dial (a
// WireGuard handshake and a TCP handshake) plus one byte from the server.
func BenchmarkFirstByte(b *testing.B) {
	srv := newNode(b, 2, nil)
	l, err := srv.Listen("tcp", ":6001")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("!"))
			c.Close()
		}
	}()
	var lat []time.Duration
	for i := range b.N {
		b.StopTimer()
		client := newNode(b, 3+i%250, nil)
		connect(b, client, srv)
		b.StartTimer()
		start := time.Now()
		c, err := client.Dial(testCtx(b, 20*time.Second), "tcp", netip.AddrPortFrom(srv.v4, 6001).String())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		b.StopTimer()
		c.Close()
		srv.RemovePeer(client.PublicKey())
		client.Close()
		b.StartTimer()
	}
	// The median, and the worst: a lost handshake message costs
	// wireguard-go's 5 s retry, which a mean would smear over the rest.
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms-to-first-byte")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms-to-first-byte")
}

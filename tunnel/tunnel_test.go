package tunnel_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/gonaut/gonaut/tunnel"
)

func serveHTTP(tb testing.TB, n *node, addr string, h http.Handler) {
	tb.Helper()
	l, err := n.Listen("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(l) }()
	tb.Cleanup(func() { srv.Close(); <-done })
}

func TestHTTPOverTunnel(t *testing.T) {
	a, b := newPair(t, nil, nil)
	serveHTTP(t, b, ":80", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.RemoteAddr)
	}))
	for _, host := range []string{b.v4.String(), "[" + b.v6.String() + "]"} {
		req, _ := http.NewRequestWithContext(testCtx(t, 20*time.Second), "GET", "http://"+host+"/", nil)
		resp, err := a.HTTPClient().Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", host, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ap, err := netip.ParseAddrPort(string(bytes.TrimPrefix(body, []byte("hello "))))
		if err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		want := a.v4
		if host[0] == '[' {
			want = a.v6
		}
		if ap.Addr() != want {
			t.Errorf("server saw client %v, want %v", ap.Addr(), want)
		}
	}
	ps := a.Peers()
	if len(ps) != 1 || ps[0].PublicKey != b.PublicKey() || ps[0].LastHandshake.IsZero() || ps[0].RxBytes == 0 || ps[0].TxBytes == 0 {
		t.Errorf("peer stats after traffic: %+v", ps)
	}
	if ps[0].Endpoint.String() != b.endpoint() {
		t.Errorf("peer endpoint %v, want %v", ps[0].Endpoint, b.endpoint())
	}
}

// TestBulkTCP sends random data both ways at once and compares SHA-256
// sums, over IPv4 and IPv6, with and without offload.
func TestBulkTCP(t *testing.T) {
	for _, off := range []bool{false, true} {
		t.Run("offload="+strconv.FormatBool(!off), func(t *testing.T) {
			a, b := newPair(t, &tunnel.Options{DisableOffload: off}, &tunnel.Options{DisableOffload: off})
			l, err := b.Listen("tcp", ":9000")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			const size = 8 << 20
			for _, dst := range []netip.Addr{b.v4, b.v6} {
				srvErr := make(chan error, 1)
				go func() {
					c, err := l.Accept()
					if err != nil {
						srvErr <- err
						return
					}
					defer c.Close()
					// Echo the checksum of what was received, then
					// send our own stream.
					h := sha256.New()
					if _, err := io.CopyN(h, c, size); err != nil {
						srvErr <- err
						return
					}
					_, err = c.Write(h.Sum(nil))
					srvErr <- err
				}()
				c, err := a.Dial(testCtx(t, 60*time.Second), "tcp", netip.AddrPortFrom(dst, 9000).String())
				if err != nil {
					t.Fatal(err)
				}
				h := sha256.New()
				if _, err := io.CopyN(io.MultiWriter(c, h), rand.Reader, size); err != nil {
					t.Fatal(err)
				}
				got := make([]byte, sha256.Size)
				c.SetReadDeadline(time.Now().Add(60 * time.Second))
				if _, err := io.ReadFull(c, got); err != nil {
					t.Fatal(err)
				}
				c.Close()
				if err := <-srvErr; err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, h.Sum(nil)) {
					t.Fatalf("%v: checksum mismatch", dst)
				}
			}
		})
	}
}

func TestUDP(t *testing.T) {
	a, b := newPair(t, nil, nil)
	for _, dst := range []netip.Addr{b.v4, b.v6} {
		pc, err := b.ListenPacket("udp", netip.AddrPortFrom(dst, 5353).String())
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			buf := make([]byte, 2048)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo(append([]byte("echo:"), buf[:n]...), from)
			}
		}()
		c, err := a.Dial(testCtx(t, 10*time.Second), "udp", netip.AddrPortFrom(dst, 5353).String())
		if err != nil {
			t.Fatal(err)
		}
		// The first datagrams may be lost while the handshake runs.
		buf := make([]byte, 2048)
		var got string
		for i := 0; i < 50 && got == ""; i++ {
			c.Write([]byte("ping"))
			c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			if n, err := c.Read(buf); err == nil {
				got = string(buf[:n])
			}
		}
		c.Close()
		pc.Close()
		if got != "echo:ping" {
			t.Fatalf("%v: got %q", dst, got)
		}
	}
}

func TestPeerRemovalCutsTraffic(t *testing.T) {
	a, b := newPair(t, nil, nil)
	l, err := b.Listen("tcp", ":7000")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	c, err := a.Dial(testCtx(t, 20*time.Second), "tcp", netip.AddrPortFrom(b.v4, 7000).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 4)
	c.Write([]byte("one!"))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	if err := a.RemovePeer(b.PublicKey()); err != nil {
		t.Fatal(err)
	}
	if err := a.RemovePeer(b.PublicKey()); !errors.Is(err, tunnel.ErrUnknownPeer) {
		t.Fatalf("second RemovePeer: %v, want ErrUnknownPeer", err)
	}
	if _, ok := a.WhoIs(b.v4); ok {
		t.Error("WhoIs still knows the removed peer")
	}
	c.Write([]byte("two!"))
	c.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
	if n, err := io.ReadFull(c, buf); err == nil {
		t.Fatalf("read %q after peer removal", buf[:n])
	}
	// A new connection cannot be set up either.
	if _, err := a.Dial(testCtx(t, time.Second), "tcp", netip.AddrPortFrom(b.v4, 7000).String()); err == nil {
		t.Fatal("dial succeeded after peer removal")
	}
	if len(a.Peers()) != 0 {
		t.Errorf("Peers() = %v after removal", a.Peers())
	}
}

// TestEndpointRoaming moves one side to a new UDP socket (a new port, as
// when a laptop changes networks): the other side learns the new endpoint
// from authenticated packets and the connection carries on.
func TestEndpointRoaming(t *testing.T) {
	a := newNode(t, 1, nil)
	b := newNode(t, 2, nil)
	connect(t, a, b)
	l, err := b.Listen("tcp", ":7001")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	echo := func(c net.Conn, msg string) {
		t.Helper()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
			t.Fatalf("echo %q: %q, %v", msg, buf, err)
		}
	}
	c, err := a.Dial(testCtx(t, 20*time.Second), "tcp", netip.AddrPortFrom(b.v4, 7001).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echo(c, "before")

	// a2 is "a after roaming": same key and address, new UDP port. a
	// itself must stop first so that b's packets cannot reach the old port.
	cfg := a.Config()
	a.Close()
	cfg.ListenPort = 0
	a2t, err := tunnel.New(testCtx(t, 5*time.Second), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a2t.Close()
	if a2t.ListenPort() == a.port {
		t.Skip("kernel reused the same port; nothing roamed")
	}
	// a2 knows b's endpoint and sends first; b follows to a2's new port.
	c2, err := a2t.Dial(testCtx(t, 20*time.Second), "tcp", netip.AddrPortFrom(b.v4, 7001).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	echo(c2, "after roaming")
	for _, p := range b.Peers() {
		if p.PublicKey == a.PublicKey() && int(p.Endpoint.Port()) != a2t.ListenPort() {
			t.Errorf("b has endpoint %v for a, want port %d", p.Endpoint, a2t.ListenPort())
		}
	}
}

func TestCloseTwiceAndAfterClose(t *testing.T) {
	n := newNode(t, 1, nil)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Dial(testCtx(t, time.Second), "tcp", "10.99.0.2:80"); !errors.Is(err, tunnel.ErrClosed) {
		t.Errorf("Dial after Close: %v", err)
	}
	if _, err := n.Listen("tcp", ":80"); !errors.Is(err, tunnel.ErrClosed) {
		t.Errorf("Listen after Close: %v", err)
	}
	if err := n.SetPeer(testCtx(t, time.Second), tunnel.PeerConfig{PublicKey: mustKey(t).PublicKey()}); !errors.Is(err, tunnel.ErrClosed) {
		t.Errorf("SetPeer after Close: %v", err)
	}
	// The UDP port is released: binding it again works.
	pc, err := net.ListenPacket("udp4", "127.0.0.1:"+strconv.Itoa(n.port))
	if err != nil {
		t.Fatalf("UDP port not released: %v", err)
	}
	pc.Close()
}

func TestUnsupportedNetwork(t *testing.T) {
	n := newNode(t, 1, nil)
	if _, err := n.Dial(testCtx(t, time.Second), "unix", "/x"); !errors.Is(err, tunnel.ErrUnsupportedNetwork) {
		t.Errorf("Dial unix: %v", err)
	}
	if _, err := n.Listen("udp", ":1"); !errors.Is(err, tunnel.ErrUnsupportedNetwork) {
		t.Errorf("Listen udp: %v", err)
	}
	if _, err := n.ListenPacket("tcp", ":1"); !errors.Is(err, tunnel.ErrUnsupportedNetwork) {
		t.Errorf("ListenPacket tcp: %v", err)
	}
}

// TestPeerChangesWhileTrafficFlows updates the active peer and adds and
// removes others during a bulk transfer, which completes intact.
func TestPeerChangesWhileTrafficFlows(t *testing.T) {
	a, b := newPair(t, nil, nil)
	l, err := b.Listen("tcp", ":9100")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const size = 8 << 20
	sum := make(chan []byte, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			sum <- nil
			return
		}
		defer c.Close()
		h := sha256.New()
		io.CopyN(h, c, size)
		sum <- h.Sum(nil)
	}()
	c, err := a.Dial(testCtx(t, 20*time.Second), "tcp", netip.AddrPortFrom(b.v4, 9100).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h := sha256.New()
	done := make(chan error, 1)
	go func() {
		_, err := io.CopyN(io.MultiWriter(c, h), rand.Reader, size)
		done <- err
	}()
	ctx := testCtx(t, 60*time.Second)
	for i := 0; ; i++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if got := <-sum; !bytes.Equal(got, h.Sum(nil)) {
				t.Fatal("checksum mismatch")
			}
			if i == 0 {
				t.Log("transfer finished before any peer change")
			}
			return
		default:
		}
		// Update the active peer (keepalive, an extra allowed prefix)...
		if err := a.SetPeer(ctx, tunnel.PeerConfig{
			PublicKey:           b.PublicKey(),
			Endpoint:            b.endpoint(),
			PersistentKeepalive: time.Duration(1+i%5) * time.Second,
			AllowedIPs:          []netip.Prefix{netip.PrefixFrom(b.v4, 32), netip.PrefixFrom(b.v6, 128), netip.MustParsePrefix("10.123.0.0/16")},
		}); err != nil {
			t.Fatal(err)
		}
		// ...and add and remove another.
		other := mustKey(t).PublicKey()
		if err := a.SetPeer(ctx, tunnel.PeerConfig{PublicKey: other, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.124.0.0/16")}}); err != nil {
			t.Fatal(err)
		}
		if err := a.RemovePeer(other); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

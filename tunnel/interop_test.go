package tunnel_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/tunnel"
)

// kernelPeer is Debian's wireguard-go on a real TUN device inside a network
// namespace that the test creates, configured with wg(8), with the
// kernel's TCP/IP stack (and curl, python3) on top: an independent
// WireGuard implementation to talk to. The namespace reaches the host
// through a veth pair.
type kernelPeer struct {
	ns, iface    string
	hostIP, nsIP netip.Addr // the veth ends
	key          tunnel.Key
	port         int
}

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("interop test needs root for ip netns and /dev/net/tun")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skip("interop test needs /dev/net/tun")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("interop test needs %s (Debian package in .ci/run)", tool)
		}
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newKernelPeer starts wireguard-go in a fresh namespace with tunnel
// address inner/24 and a route for routes, peered with the Gonaut tunnel g.
func newKernelPeer(t *testing.T, g *node, inner netip.Addr, routes ...string) *kernelPeer {
	t.Helper()
	id := randHex(4)
	b := make([]byte, 1)
	rand.Read(b)
	k := &kernelPeer{
		ns:     "gnt-" + id,
		iface:  "wg" + id,
		hostIP: netip.AddrFrom4([4]byte{172, 31, b[0], 1}),
		nsIP:   netip.AddrFrom4([4]byte{172, 31, b[0], 2}),
		key:    mustKey(t),
	}
	vh, vn := "gv"+id+"h", "gv"+id+"n"
	run(t, "ip", "netns", "add", k.ns)
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", k.ns).Run()
		exec.Command("ip", "link", "del", vh).Run()
		os.Remove(filepath.Join("/var/run/wireguard", k.iface+".sock"))
	})
	run(t, "ip", "link", "add", vh, "type", "veth", "peer", "name", vn)
	run(t, "ip", "link", "set", vn, "netns", k.ns)
	run(t, "ip", "addr", "add", k.hostIP.String()+"/30", "dev", vh)
	run(t, "ip", "link", "set", vh, "up")
	run(t, "ip", "-n", k.ns, "addr", "add", k.nsIP.String()+"/30", "dev", vn)
	run(t, "ip", "-n", k.ns, "link", "set", vn, "up")
	run(t, "ip", "-n", k.ns, "link", "set", "lo", "up")

	cmd := exec.Command("ip", "netns", "exec", k.ns, "wireguard-go", "-f", k.iface)
	cmd.Env = append(os.Environ(), "WG_PROCESS_FOREGROUND=1", "LOG_LEVEL=error")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("wireguard-go output:\n%s", logs.String())
		}
	})
	sock := filepath.Join("/var/run/wireguard", k.iface+".sock")
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i > 200 {
			t.Fatalf("wireguard-go did not create %s:\n%s", sock, logs.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte(k.key.String()), 0o600)
	run(t, "ip", "netns", "exec", k.ns, "wg", "set", k.iface, "private-key", keyFile, "listen-port", "0",
		"peer", g.PublicKey().String(),
		"allowed-ips", strings.Join(append([]string{g.v4.String() + "/32"}, routes...), ","),
		"endpoint", fmt.Sprintf("%s:%d", k.hostIP, g.port),
		"persistent-keepalive", "25")
	run(t, "ip", "-n", k.ns, "addr", "add", inner.String()+"/24", "dev", k.iface)
	run(t, "ip", "-n", k.ns, "link", "set", k.iface, "mtu", "1420", "up")
	for _, r := range routes {
		run(t, "ip", "-n", k.ns, "route", "add", r, "dev", k.iface)
	}
	p, err := strconv.Atoi(strings.TrimSpace(run(t, "ip", "netns", "exec", k.ns, "wg", "show", k.iface, "listen-port")))
	if err != nil {
		t.Fatal(err)
	}
	k.port = p
	// The Gonaut side knows the kernel peer's endpoint too, so either side
	// can start the handshake.
	if err := g.SetPeer(context.Background(), tunnel.PeerConfig{
		PublicKey:  k.key.PublicKey(),
		Endpoint:   fmt.Sprintf("%s:%d", k.nsIP, k.port),
		AllowedIPs: []netip.Prefix{netip.PrefixFrom(inner, 32)},
	}); err != nil {
		t.Fatal(err)
	}
	return k
}

func (k *kernelPeer) exec(t *testing.T, ctx context.Context, script string) (string, error) {
	t.Helper()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", k.ns, "sh", "-c", script).CombinedOutput()
	return string(out), err
}

// TestInteropWireguardGo talks to Debian's wireguard-go on a kernel TUN:
// curl in the namespace fetches from the Gonaut tunnel's HTTP server
// (small and 16 MiB with a checksum), the Gonaut tunnel fetches from a
// Python HTTP server in the namespace, and wg show reports the handshake.
func TestInteropWireguardGo(t *testing.T) {
	needTools(t, "ip", "wg", "wireguard-go", "curl", "sha256sum")
	g := newNode(t, 1, nil)
	inner := netip.MustParseAddr("10.99.0.2")
	k := newKernelPeer(t, g, inner)

	blob := make([]byte, 16<<20)
	rand.Read(blob)
	sum := sha256.Sum256(blob)
	serveHTTP(t, g, ":80", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/blob" {
			w.Write(blob)
			return
		}
		fmt.Fprintf(w, "hello %s from gonaut", r.RemoteAddr)
	}))
	ctx := testCtx(t, 90*time.Second)
	out, err := k.exec(t, ctx, "curl -sS --retry 5 --retry-all-errors --retry-delay 1 --max-time 20 http://10.99.0.1/")
	if err != nil || !strings.HasPrefix(out, "hello 10.99.0.2:") {
		t.Fatalf("curl through wireguard-go: %q %v", out, err)
	}
	// The netstack answers ICMP echo on its own address.
	if _, err := exec.LookPath("ping"); err == nil {
		if out, err := k.exec(t, ctx, "ping -c 2 -W 5 10.99.0.1"); err != nil || !strings.Contains(out, "2 received") {
			t.Errorf("ping through the tunnel: %v\n%s", err, out)
		}
	}
	out, err = k.exec(t, ctx, "curl -sS --max-time 60 http://10.99.0.1/blob | sha256sum")
	if err != nil || !strings.HasPrefix(out, hex.EncodeToString(sum[:])) {
		t.Fatalf("16 MiB download: %q %v, want %x", out, err, sum)
	}

	// And back: the Gonaut tunnel is the client of a kernel TCP server.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "file.txt"), []byte("served by the kernel"), 0o644)
	py := exec.Command("ip", "netns", "exec", k.ns, "python3", "-m", "http.server", "--bind", inner.String(), "--directory", dir, "8000")
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { py.Process.Kill(); py.Wait() })
	var body []byte
	for i := 0; i < 100; i++ {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://10.99.0.2:8000/file.txt", nil)
		resp, err := g.HTTPClient().Do(req)
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			break
		}
		time.Sleep(100 * time.Millisecond) // python still starting
	}
	if string(body) != "served by the kernel" {
		t.Fatalf("GET from the namespace: %q", body)
	}

	// wg on the kernel side saw a handshake with the Gonaut tunnel, and
	// the Gonaut tunnel saw one with wireguard-go.
	out = run(t, "ip", "netns", "exec", k.ns, "wg", "show", k.iface, "latest-handshakes")
	if !strings.Contains(out, g.PublicKey().String()) || strings.Contains(out, "\t0\n") {
		t.Errorf("wg show latest-handshakes: %q", out)
	}
	for _, p := range g.Peers() {
		if p.PublicKey == k.key.PublicKey() && (p.LastHandshake.IsZero() || p.TxBytes < 16<<20 || p.RxBytes == 0) {
			t.Errorf("gonaut peer stats: %+v", p)
		}
	}
}

// TestInteropFlowRefuse puts a FlowHandler on the Gonaut side and has curl
// in the namespace connect to addresses behind it: an accepted flow gets
// an answer written by the handler, and a refused one makes curl fail with
// "couldn't connect" (exit code 7, ECONNREFUSED) at once rather than after
// its timeout: the reset reached a kernel TCP stack.
func TestInteropFlowRefuse(t *testing.T) {
	needTools(t, "ip", "wg", "wireguard-go", "curl")
	flows := make(chan tunnel.Flow, 10)
	g := newNode(t, 1, &tunnel.Options{FlowHandler: func(ctx context.Context, f *tunnel.Flow) {
		flows <- tunnel.Flow{Protocol: f.Protocol, Peer: f.Peer, Source: f.Source, Destination: f.Destination}
		if f.Destination.Port() != 80 {
			f.Refuse()
			return
		}
		c, err := f.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		buf := make([]byte, 4096)
		c.Read(buf)
		fmt.Fprintf(c, "HTTP/1.0 200 OK\r\nContent-Length: 7\r\n\r\nallowed")
	}})
	k := newKernelPeer(t, g, netip.MustParseAddr("10.99.0.2"), "10.100.0.0/16")
	ctx := testCtx(t, 60*time.Second)
	out, err := k.exec(t, ctx, "curl -sS --retry 5 --retry-all-errors --retry-delay 1 --max-time 20 http://10.100.0.7/")
	if err != nil || out != "allowed" {
		t.Fatalf("accepted flow: %q %v", out, err)
	}
	f := <-flows
	if f.Peer != k.key.PublicKey() || f.Source.Addr() != netip.MustParseAddr("10.99.0.2") || f.Destination != netip.MustParseAddrPort("10.100.0.7:80") {
		t.Errorf("flow %+v", f)
	}
	start := time.Now()
	out, err = k.exec(t, ctx, "curl -sS --max-time 20 http://10.100.0.7:81/; echo exit=$?")
	if !strings.Contains(out, "exit=7") {
		t.Fatalf("refused flow: curl said %q (%v), want exit 7 connection refused", out, err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("refusal took %v", d)
	}
}

package tunnel_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
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

func needWg(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("UAPI test needs root to create /var/run/wireguard")
	}
	if _, err := exec.LookPath("wg"); err != nil {
		t.Skip("UAPI test needs wg (Debian wireguard-tools)")
	}
}

// TestUAPIWithWg drives a tunnel's UAPI socket with the stock wg(8) tool,
// with lazily loaded peers (the default) and with Options.EagerPeers: wg
// show lists its key, port and peers, and wg set adds and removes a peer
// that the tunnel's WhoIs and Config then follow.
func TestUAPIWithWg(t *testing.T) {
	needWg(t)
	for _, eager := range []bool{false, true} {
		t.Run(map[bool]string{false: "lazy", true: "eager"}[eager], func(t *testing.T) { testUAPIWithWg(t, eager) })
	}
}

func testUAPIWithWg(t *testing.T, eager bool) {
	name := "gnt" + randHex(4)
	a := newNode(t, 1, &tunnel.Options{UAPIName: name, EagerPeers: eager})
	b := newNode(t, 2, nil)
	connect(t, a, b)
	udpCounter(t, b, 4001)
	roundTrip(t, a, netip.AddrPortFrom(b.v4, 4001))
	out := run(t, "wg", "show", name, "dump")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("wg show dump: %q", out)
	}
	iface := strings.Split(lines[0], "\t")
	if iface[0] != a.key.String() || iface[1] != a.PublicKey().String() || iface[2] != strconv.Itoa(a.port) {
		t.Errorf("interface line %q", lines[0])
	}
	peer := strings.Split(lines[1], "\t")
	if peer[0] != b.PublicKey().String() || peer[2] != b.endpoint() || !strings.Contains(peer[3], "10.99.0.2/32") || peer[4] == "0" {
		t.Errorf("peer line %q (want endpoint, allowed IPs and a handshake)", lines[1])
	}

	newPeer := mustKey(t).PublicKey()
	run(t, "wg", "set", name, "peer", newPeer.String(), "allowed-ips", "10.5.0.0/24", "persistent-keepalive", "15")
	eventually(t, func() bool { k, ok := a.WhoIs(netip.MustParseAddr("10.5.0.77")); return ok && k == newPeer })
	found := false
	for _, p := range a.Config().Peers {
		if p.PublicKey == newPeer && p.PersistentKeepalive == 15*time.Second {
			found = true
		}
	}
	if !found {
		t.Errorf("Config() misses the peer added by wg set: %+v", a.Config().Peers)
	}
	run(t, "wg", "set", name, "peer", newPeer.String(), "remove")
	eventually(t, func() bool { _, ok := a.WhoIs(netip.MustParseAddr("10.5.0.77")); return !ok })

	// A new listen port rebinds the socket; b follows it and traffic
	// flows again. A new private key changes the public key.
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	run(t, "wg", "set", name, "listen-port", strconv.Itoa(port))
	if a.ListenPort() != port {
		t.Errorf("ListenPort() = %d after wg set listen-port %d", a.ListenPort(), port)
	}
	a.port = port
	connect(t, a, b)
	roundTrip(t, a, netip.AddrPortFrom(b.v4, 4001))
	newKey := mustKey(t)
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(newKey.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "wg", "set", name, "private-key", keyFile)
	if a.PublicKey() != newKey.PublicKey() || a.Config().PrivateKey != newKey {
		t.Errorf("PublicKey() = %v after wg set private-key, want %v", a.PublicKey(), newKey.PublicKey())
	}
	if out := run(t, "wg", "show", name, "public-key"); strings.TrimSpace(out) != newKey.PublicKey().String() {
		t.Errorf("wg show public-key = %q", out)
	}
	a.Close()
	if _, err := os.Stat(filepath.Join("/var/run/wireguard", name+".sock")); !os.IsNotExist(err) {
		t.Errorf("UAPI socket left behind: %v", err)
	}
}

// eventually waits up to 10 seconds for cond.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met within 10s")
}

// TestUAPIUnloadedPeers checks the UAPI socket of a tunnel whose peers are
// configured but not in use, so not loaded into WireGuard: wg show lists
// them all, wg set changes one, and a malformed request gets an error and
// changes nothing.
func TestUAPIUnloadedPeers(t *testing.T) {
	needWg(t)
	name := "gnt" + randHex(4)
	a := newNode(t, 1, &tunnel.Options{UAPIName: name})
	ctx := testCtx(t, 10*time.Second)
	var keys []tunnel.Key
	for i := range 50 {
		k := mustKey(t).PublicKey()
		keys = append(keys, k)
		err := a.SetPeer(ctx, tunnel.PeerConfig{
			PublicKey:  k,
			Endpoint:   fmt.Sprintf("127.0.0.1:%d", 20000+i),
			AllowedIPs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 70, 0, byte(i)}), 32)},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	out := run(t, "wg", "show", name, "dump")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 51 {
		t.Fatalf("wg show dump has %d lines, want 51:\n%s", len(lines), out)
	}
	for _, l := range lines[1:] {
		f := strings.Split(l, "\t")
		if len(f) < 8 || !strings.HasPrefix(f[2], "127.0.0.1:") || !strings.HasPrefix(f[3], "10.70.0.") || f[4] != "0" {
			t.Errorf("peer line %q", l)
		}
	}

	run(t, "wg", "set", name, "peer", keys[7].String(), "endpoint", "127.0.0.1:9", "allowed-ips", "10.71.0.0/16,10.70.0.7/32")
	if k, ok := a.WhoIs(netip.MustParseAddr("10.71.3.4")); !ok || k != keys[7] {
		t.Errorf("WhoIs(10.71.3.4) = %v, %v after wg set", k, ok)
	}
	var got tunnel.PeerConfig
	for _, p := range a.Config().Peers {
		if p.PublicKey == keys[7] {
			got = p
		}
	}
	if got.Endpoint != "127.0.0.1:9" || len(got.AllowedIPs) != 2 {
		t.Errorf("Config() after wg set: %+v", got)
	}
	if out := run(t, "wg", "show", name, "endpoints"); !strings.Contains(out, keys[7].String()+"\t127.0.0.1:9") {
		t.Errorf("wg show endpoints:\n%s", out)
	}

	// A request with a bad line fails whole: the peer before it is not
	// added.
	fresh := mustKey(t).PublicKey()
	reply := uapiRequest(t, name, fmt.Sprintf("set=1\npublic_key=%x\nallowed_ip=10.72.0.0/16\npublic_key=%x\nallowed_ip=not-a-prefix\n\n", fresh[:], keys[0][:]))
	if reply != "errno=-22\n\n" {
		t.Errorf("reply to a bad set: %q, want errno=-22", reply)
	}
	if _, ok := a.WhoIs(netip.MustParseAddr("10.72.0.1")); ok {
		t.Error("a failed set request added a peer")
	}
	if n := len(a.Peers()); n != 50 {
		t.Errorf("%d peers after a failed set, want 50", n)
	}
	if reply := uapiRequest(t, name, "get=1\nx"); reply != "errno=-22\n\n" {
		t.Errorf("reply to a get with a trailing character: %q", reply)
	}

	// Unlike wg(8) on a kernel interface, a prefix another peer holds is
	// not taken from it: the request fails whole and names both peers.
	reply = uapiRequest(t, name, fmt.Sprintf("set=1\npublic_key=%x\nallowed_ip=10.70.0.2/32\npublic_key=%x\nendpoint=127.0.0.1:7\n\n", keys[1][:], keys[2][:]))
	if reply != "errno=-22\n\n" {
		t.Fatalf("reply to an overlapping set: %q, want errno=-22", reply)
	}
	if k, ok := a.WhoIs(netip.MustParseAddr("10.70.0.2")); !ok || k != keys[2] {
		t.Errorf("WhoIs(10.70.0.2) = %v, %v; want the peer that had it", k, ok)
	}
	if out, err := exec.Command("wg", "set", name, "peer", keys[3].String(), "allowed-ips", "10.70.0.0/24").CombinedOutput(); err == nil {
		t.Errorf("wg set with an overlapping prefix succeeded: %s", out)
	}
	if k, ok := a.WhoIs(netip.MustParseAddr("10.70.0.5")); !ok || k != keys[5] {
		t.Errorf("WhoIs(10.70.0.5) = %v, %v after a refused wg set", k, ok)
	}
}

// uapiRequest sends one raw request to the UAPI socket NAME and returns
// the reply up to its empty line.
func uapiRequest(t *testing.T, name, req string) string {
	t.Helper()
	c, err := net.Dial("unix", filepath.Join("/var/run/wireguard", name+".sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	var reply strings.Builder
	for {
		line, err := r.ReadString('\n')
		reply.WriteString(line)
		if err != nil || line == "\n" {
			return reply.String()
		}
	}
}

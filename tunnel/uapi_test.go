package tunnel_test

import (
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

// TestUAPIWithWg drives a tunnel's UAPI socket with the stock wg(8) tool:
// wg show lists its key, port and peers, and wg set adds and removes a peer
// that the tunnel's WhoIs and Config then follow.
func TestUAPIWithWg(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("UAPI test needs root to create /var/run/wireguard")
	}
	if _, err := exec.LookPath("wg"); err != nil {
		t.Skip("UAPI test needs wg (Debian wireguard-tools)")
	}
	name := "gnt" + randHex(4)
	a := newNode(t, 1, &tunnel.Options{UAPIName: name})
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
	// The tunnel reads the change back when wg closes the UAPI
	// connection, which may be just after wg exits.
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

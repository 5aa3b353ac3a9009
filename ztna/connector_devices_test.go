package ztna_test

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/serialfwd"
	"github.com/gonaut/gonaut/usbip/sim"
	"github.com/gonaut/gonaut/ztna"
)

// labConnector adds the connector "lab" (site berlin) to w's
// configuration and returns its key.
func labConnector(t *testing.T, w *world) (key string, start func(g *ztna.Gateway, heartbeat time.Duration) *ztna.Connector) {
	t.Helper()
	connKey := mustKey(t)
	w.cfg.Connectors = []ztna.ConnectorConfig{{ID: "lab", Site: "berlin", PublicKey: connKey.PublicKey().String(), Address: "10.77.1.1"}}
	return connKey.String(), func(g *ztna.Gateway, heartbeat time.Duration) *ztna.Connector {
		wg, err := ztna.PeerConfig(w.cfg, g.PublicKey(), connKey, netip.MustParseAddr("10.77.1.1"), "127.0.0.1:"+itoa(g.ListenPort()))
		if err != nil {
			t.Fatal(err)
		}
		c := &ztna.Connector{Config: wg, Heartbeat: heartbeat}
		t.Cleanup(func() { c.Close() })
		return c
	}
}

// The Linux usbip client, through a ztna.Client and the gateway, lists
// and imports simulated USB devices hosted by a ztna.Connector: it sees
// only what policy lets it see (with the connector's site), imports are
// allowed or refused by policy, and a device unplugged at the connector is
// reported absent and refused with that reason until it is plugged in
// again.
func TestUSBThroughConnector(t *testing.T) {
	usbip := needTool(t, "usbip")
	w := newWorld(t)
	_, startConnector := labConnector(t, w)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "lab-dev.corp", Kind: "usb", Connector: "lab"}}
	g := w.start(t, nil)
	ctx := testCtx(t, 50*time.Second)
	conn := startConnector(g, 0)
	if _, err := conn.AddUSBDevice(ctx, "1-1", sim.NewKeyboard("KB-1")); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.AddUSBDevice(ctx, "1-2", sim.NewStorage("DISK-2", 1<<20)); err != nil {
		t.Fatal(err)
	}
	for _, bus := range []string{"1-1", "1-2"} {
		ev := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Kind == ztna.EventDevicePresent && ev.Path == bus })
		if ev.Resource != "lab-dev.corp" || ev.Upstream != "10.77.1.1:3240" {
			t.Errorf("presence of %s: %+v", bus, ev)
		}
	}

	addr := forward(t, w.client(t, g, "alice"), "lab-dev.corp:3240")
	_, port, _ := net.SplitHostPort(addr)
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, usbip, append([]string{"--tcp-port", port}, args...)...).CombinedOutput()
		return string(out), err
	}
	out, err := run("list", "-r", "127.0.0.1")
	if err != nil {
		t.Fatalf("usbip list: %v\n%s", err, out)
	}
	if !strings.Contains(out, "1-1") || strings.Contains(out, "1-2") {
		t.Errorf("usbip list through the gateway and the connector shows:\n%s\nwant 1-1 only", out)
	}
	out, _ = run("attach", "-r", "127.0.0.1", "-b", "1-2")
	if !strings.Contains(out, "Attach Request for 1-2 failed") {
		t.Errorf("import of a denied device:\n%s", out)
	}
	attachAllowed := func() {
		t.Helper()
		out, err := run("attach", "-r", "127.0.0.1", "-b", "1-1")
		if err == nil {
			t.Logf("usbip attach succeeded: this kernel has vhci_hcd\n%s", out)
		} else if strings.Contains(out, "Attach Request for 1-1 failed") || !strings.Contains(out, "vhci") {
			t.Errorf("import of an allowed device did not pass the handshake:\n%s", out)
		}
	}
	attachAllowed()
	allow := w.waitEvent(t, func(ev ztna.Event) bool {
		return ev.Kind == ztna.EventDecision && ev.Resource == "lab-dev.corp" && ev.Path == "1-1"
	})
	deny := w.waitEvent(t, func(ev ztna.Event) bool {
		return ev.Kind == ztna.EventDecision && ev.Resource == "lab-dev.corp" && ev.Path == "1-2"
	})
	if allow.Effect != "allow" || allow.Rule != "eng-lab-usb" || deny.Effect != "deny" {
		t.Errorf("import events: %+v / %+v", allow, deny)
	}

	// Hot-unplug at the connector: the gateway reports the device absent
	// and refuses its import with that reason.
	unplugged := time.Now()
	if err := conn.RemoveUSBDevice("1-1"); err != nil {
		t.Fatal(err)
	}
	w.waitEvent(t, func(ev ztna.Event) bool {
		return ev.Kind == ztna.EventDeviceAbsent && ev.Path == "1-1" && ev.Time.After(unplugged)
	})
	out, _ = run("attach", "-r", "127.0.0.1", "-b", "1-1")
	if !strings.Contains(out, "Attach Request for 1-1 failed") {
		t.Errorf("import of an unplugged device:\n%s", out)
	}
	absent := w.waitEvent(t, func(ev ztna.Event) bool {
		return ev.Kind == ztna.EventDecision && ev.Path == "1-1" && ev.Time.After(unplugged)
	})
	if absent.Effect != "deny" || !strings.Contains(absent.Reason, "device absent") {
		t.Errorf("import of an unplugged device: %+v", absent)
	}
	if out, _ := run("list", "-r", "127.0.0.1"); strings.Contains(out, "1-1") {
		t.Errorf("an unplugged device is listed:\n%s", out)
	}

	// Plugged in again: it is back.
	plugged := time.Now()
	if _, err := conn.AddUSBDevice(ctx, "1-1", sim.NewKeyboard("KB-1")); err != nil {
		t.Fatal(err)
	}
	w.waitEvent(t, func(ev ztna.Event) bool {
		return ev.Kind == ztna.EventDevicePresent && ev.Path == "1-1" && ev.Time.After(plugged)
	})
	attachAllowed()

	// carol is not in eng: she sees nothing.
	carolAddr := forward(t, w.client(t, g, "carol"), "lab-dev.corp:3240")
	_, port, _ = net.SplitHostPort(carolAddr)
	out, _ = run("list", "-r", "127.0.0.1")
	if strings.Contains(out, "1-1") || strings.Contains(out, "1-2") {
		t.Errorf("carol's list shows devices:\n%s", out)
	}

	// The connector goes away: all its devices are reported absent.
	gone := time.Now()
	conn.Close()
	for _, bus := range []string{"1-1", "1-2"} {
		ev := w.waitEvent(t, func(ev ztna.Event) bool {
			return ev.Kind == ztna.EventDeviceAbsent && ev.Path == bus && ev.Time.After(gone)
		})
		if !strings.Contains(ev.Reason, "unreachable") {
			t.Errorf("absence of %s when the connector is gone: %+v", bus, ev)
		}
	}
	_, port, _ = net.SplitHostPort(addr)
	if out, _ := run("list", "-r", "127.0.0.1"); strings.Contains(out, "1-1") {
		t.Errorf("alice's list shows devices of a connector that is gone:\n%s", out)
	}
}

// pyserial's RFC 2217 client, through a ztna.Client and the gateway, talks
// to a pty that a ztna.Connector shares; policy sees the connector's
// device path; carol is refused; when the device disappears at the
// connector, connections are refused as absent.
func TestSerialThroughConnector(t *testing.T) {
	py := needPyserial(t)
	dir, a, b := ptyPair(t)
	// The connector's device is a link to one end of the pair, so that
	// removing the link unplugs it.
	dev := filepath.Join(dir, "ttyLab")
	if err := os.Symlink(a, dev); err != nil {
		t.Fatal(err)
	}
	far, err := os.OpenFile(b, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := far.Read(buf)
			if err != nil {
				return
			}
			far.Write([]byte(strings.ToUpper(string(buf[:n]))))
		}
	}()

	w := newWorld(t)
	_, startConnector := labConnector(t, w)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "lab-serial.corp", Kind: "serial", Connector: "lab"}}
	g := w.start(t, nil)
	ctx := testCtx(t, 50*time.Second)
	conn := startConnector(g, 0)
	if err := conn.ExportSerial(ctx, 2217, ztna.SerialExport{Path: dev, Mode: serialfwd.Mode{BaudRate: 115200}}); err != nil {
		t.Fatal(err)
	}
	present := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Kind == ztna.EventDevicePresent })
	if present.Resource != "lab-serial.corp" || present.Path != dev {
		t.Errorf("presence: %+v", present)
	}

	script := `
import serial, sys
s = serial.serial_for_url("rfc2217://" + sys.argv[1], do_not_open=True, baudrate=9600, timeout=10)
s.dtr = False
s.rts = False
s.open()
s.write(b"hello serial\n")
got = s.read(13)
print(got.decode())
s.close()
`
	pyrun := func(addr string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, py, "-c", script, addr).CombinedOutput()
		return string(out), err
	}
	aliceAddr := forward(t, w.client(t, g, "alice"), "lab-serial.corp:2217")
	out, err := pyrun(aliceAddr)
	if err != nil || strings.TrimSpace(out) != "HELLO SERIAL" {
		t.Fatalf("pyserial through the gateway and the connector: %v\n%s", err, out)
	}
	if out, err := pyrun(forward(t, w.client(t, g, "carol"), "lab-serial.corp:2217")); err == nil {
		t.Errorf("carol reached the serial console: %s", out)
	}
	deny := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Resource == "lab-serial.corp" && ev.Subject == "carol" })
	if deny.Effect != "deny" {
		t.Errorf("carol's serial decision: %+v", deny)
	}
	flow := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Resource == "lab-serial.corp" && ev.Kind == ztna.EventFlow })
	if flow.Subject != "alice" || flow.Rule != "eng-lab-serial" || flow.BytesIn == 0 || flow.BytesOut == 0 {
		t.Errorf("alice's serial flow: %+v", flow)
	}

	// Unplugged: reported absent, and alice is refused with that reason.
	unplugged := time.Now()
	if err := os.Remove(dev); err != nil {
		t.Fatal(err)
	}
	w.waitEvent(t, func(ev ztna.Event) bool { return ev.Kind == ztna.EventDeviceAbsent && ev.Time.After(unplugged) })
	if out, err := pyrun(aliceAddr); err == nil {
		t.Errorf("alice reached an unplugged serial port: %s", out)
	}
	absent := w.waitEvent(t, func(ev ztna.Event) bool {
		return ev.Kind == ztna.EventDecision && ev.Subject == "alice" && ev.Time.After(unplugged)
	})
	if absent.Effect != "deny" || !strings.Contains(absent.Reason, "device absent") {
		t.Errorf("alice's decision on an unplugged port: %+v", absent)
	}
}

// A connector carries traffic again, without a restart, after the gateway
// restarted on the same key and port and lost every WireGuard session:
// its heartbeat notices and starts a new session.
func TestConnectorReconnectsAfterGatewayRestart(t *testing.T) {
	w := newWorld(t)
	_, startConnector := labConnector(t, w)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Connector: "lab", ConnectorPort: 7007}}
	g1, err := ztna.New(context.Background(), w.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, 55*time.Second)
	conn := startConnector(g1, 200*time.Millisecond)
	hidden := echoServer(t)
	if err := conn.Export(ctx, 7007, func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", hidden)
	}); err != nil {
		t.Fatal(err)
	}
	c, err := w.client(t, g1, "alice").Dial(ctx, "tcp", "echo.corp:7")
	if err != nil {
		t.Fatal(err)
	}
	echoOnce(t, c, "before the restart")
	c.Close()

	cfg := *w.cfg
	cfg.ListenPort = g1.ListenPort()
	g1.Close()
	g2, err := ztna.New(context.Background(), &cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g2.Close() })
	// A fresh client: the test's subject is the connector, not the laptop.
	alice := w.client(t, g2, "alice")
	start := time.Now()
	for {
		dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		c, err := alice.Dial(dctx, "tcp", "echo.corp:7")
		cancel()
		if err == nil {
			echoOnce(t, c, "after the restart")
			c.Close()
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the connector never came back after the gateway restarted: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("connector reachable %v after the restart; %d session reset(s)", time.Since(start), conn.SessionResets())
	if conn.SessionResets() == 0 {
		t.Error("the connector did not restart its session")
	}
}

// udpRelay stands for the network between a connector and the gateway: a
// NAT that forwards the connector's datagrams from a socket of its own.
// Cutting it drops everything; restoring it binds a new outbound socket,
// so the gateway sees the connector come from a new address, as after a
// NAT rebinding or a change of network.
type udpRelay struct {
	t      *testing.T
	listen string // the connector's endpoint for the gateway
	to     *net.UDPAddr
	in     net.PacketConn
	out    *net.UDPConn
	done   chan struct{}
}

func newUDPRelay(t *testing.T, gateway int) *udpRelay {
	r := &udpRelay{t: t, to: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: gateway}}
	r.start("127.0.0.1:0")
	r.listen = r.in.LocalAddr().String()
	t.Cleanup(r.cut)
	return r
}

func (r *udpRelay) start(addr string) {
	in, err := net.ListenPacket("udp", addr)
	if err != nil {
		r.t.Fatal(err)
	}
	out, err := net.DialUDP("udp", nil, r.to)
	if err != nil {
		r.t.Fatal(err)
	}
	r.in, r.out, r.done = in, out, make(chan struct{})
	peer := make(chan net.Addr, 1)
	go func() {
		buf := make([]byte, 65536)
		sent := false
		for {
			n, from, err := in.ReadFrom(buf)
			if err != nil {
				return
			}
			if !sent {
				peer <- from
				sent = true
			}
			out.Write(buf[:n])
		}
	}()
	go func() {
		defer close(r.done)
		buf := make([]byte, 65536)
		var to net.Addr
		for {
			n, err := out.Read(buf)
			if err != nil {
				return
			}
			if to == nil {
				select {
				case to = <-peer:
				default:
					continue
				}
			}
			in.WriteTo(buf[:n], to)
		}
	}()
}

func (r *udpRelay) cut() {
	if r.in == nil {
		return
	}
	r.in.Close()
	r.out.Close()
	<-r.done
	r.in = nil
}

// A connector carries traffic again, without a restart, after its network
// was cut for a few seconds and came back behind a new NAT mapping.
func TestConnectorReconnectsAfterNetworkLoss(t *testing.T) {
	w := newWorld(t)
	connKey := mustKey(t)
	w.cfg.Connectors = []ztna.ConnectorConfig{{ID: "lab", Site: "berlin", PublicKey: connKey.PublicKey().String(), Address: "10.77.1.1"}}
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Connector: "lab", ConnectorPort: 7007}}
	g := w.start(t, nil)
	ctx := testCtx(t, 55*time.Second)
	relay := newUDPRelay(t, g.ListenPort())
	wg, err := ztna.PeerConfig(w.cfg, g.PublicKey(), connKey, netip.MustParseAddr("10.77.1.1"), relay.listen)
	if err != nil {
		t.Fatal(err)
	}
	conn := &ztna.Connector{Config: wg, Heartbeat: 200 * time.Millisecond}
	defer conn.Close()
	hidden := echoServer(t)
	if err := conn.Export(ctx, 7007, func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", hidden)
	}); err != nil {
		t.Fatal(err)
	}
	alice := w.client(t, g, "alice")
	reach := func(what string) {
		t.Helper()
		for {
			dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			c, err := alice.Dial(dctx, "tcp", "echo.corp:7")
			cancel()
			if err == nil {
				echoOnce(t, c, what)
				c.Close()
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("%s: the connector is unreachable: %v", what, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	reach("before the cut")
	relay.cut()
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	if c, err := alice.Dial(dctx, "tcp", "echo.corp:7"); err == nil {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("x")); err == nil {
			if _, err := c.Read(make([]byte, 1)); err == nil {
				t.Error("the connector answered while its network was cut")
			}
		}
		c.Close()
	}
	cancel()
	time.Sleep(time.Second) // the outage lasts a while
	relay.start(relay.listen)
	start := time.Now()
	reach("after the network came back")
	t.Logf("connector reachable %v after the network came back; %d session reset(s)", time.Since(start), conn.SessionResets())
}

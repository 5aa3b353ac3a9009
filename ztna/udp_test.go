package ztna_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonaut/gonaut/policy"
	"github.com/gonaut/gonaut/ztna"
)

// udpEchoServer is a UDP echo upstream on loopback.
func udpEchoServer(tb testing.TB) string {
	tb.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 64<<10)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	tb.Cleanup(func() {
		pc.Close()
		wg.Wait()
	})
	return pc.LocalAddr().String()
}

// udpEcho sends msg on c and waits up to wait for its echo; it returns
// whether the echo came.
func udpEcho(tb testing.TB, c net.Conn, msg string, wait time.Duration) bool {
	tb.Helper()
	deadline := time.Now().Add(wait)
	buf := make([]byte, 64<<10)
	// A datagram is lost while the gateway decides a new flow: resend
	// until the echo comes.
	for time.Now().Before(deadline) {
		if _, err := c.Write([]byte(msg)); err != nil {
			tb.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := c.Read(buf)
		if err == nil {
			if string(buf[:n]) != msg {
				tb.Fatalf("udp echo: got %d bytes %.40q…, want %d bytes %.40q…", n, buf[:n], len(msg), msg)
			}
			return true
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return false
		}
	}
	return false
}

// A UDP resource: alice's datagrams reach the echo upstream and come back,
// carol's get no answer, the flow ends after its idle timeout with its
// bytes counted, and a policy change cuts a live flow.
func TestUDPResource(t *testing.T) {
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "echo-udp.corp", Kind: "udp", Port: 9,
		Upstreams: []string{udpEchoServer(t)}, IdleTimeout: 500 * time.Millisecond}}
	g := w.start(t, nil)
	ctx := testCtx(t, 45*time.Second)

	alice := w.client(t, g, "alice")
	c, err := alice.Dial(ctx, "udp", "echo-udp.corp:9")
	if err != nil {
		t.Fatalf("alice dial udp by name: %v", err)
	}
	defer c.Close()
	if !udpEcho(t, c, "ping over udp", 10*time.Second) {
		t.Fatal("no echo for alice")
	}
	if !udpEcho(t, c, "second datagram", 5*time.Second) {
		t.Fatal("no echo for alice's second datagram")
	}
	// A datagram larger than the tunnel's MTU (fragmented and reassembled
	// on the way) and than the gateway's small splice buffer arrives whole.
	if !udpEcho(t, c, strings.Repeat("0123456789abcdef", 375), 10*time.Second) {
		t.Fatal("no echo for a 6000-byte datagram")
	}
	// Idle for longer than the timeout: the flow closes and is recorded.
	flow := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Kind == ztna.EventFlow && ev.Resource == "echo-udp.corp" })
	if flow.Subject != "alice" || flow.RKind != "udp" || flow.Rule != "eng-udp-echo" || flow.BytesIn < 28 || flow.BytesIn != flow.BytesOut {
		t.Errorf("udp flow event = %+v", flow)
	}
	// A new datagram opens a new flow.
	if !udpEcho(t, c, "after idle", 10*time.Second) {
		t.Fatal("no echo after the idle flow closed")
	}

	carol := w.client(t, g, "carol")
	cc, err := carol.Dial(ctx, "udp", "echo-udp.corp:9")
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if udpEcho(t, cc, "let me in", 2*time.Second) {
		t.Error("carol got an echo")
	}
	deny := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Kind == ztna.EventDecision && ev.Subject == "carol" })
	if deny.Effect != "deny" || deny.RKind != "udp" {
		t.Errorf("carol's decision = %+v", deny)
	}

	// Revocation: a live flow is cut when policy no longer allows it,
	// and new datagrams get no answer.
	if !udpEcho(t, c, "before revocation", 10*time.Second) {
		t.Fatal("no echo before revocation")
	}
	if n := g.ActiveFlows(); n != 1 {
		t.Fatalf("active flows = %d, want 1", n)
	}
	doc, err := policy.Parse("deny.yaml", []byte("rules:\n  - id: nobody\n    effect: allow\n    when: 'false'\n"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := policy.Compile([]*policy.Document{doc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	g.SetPolicy(ctx, set)
	if n := g.ActiveFlows(); n != 0 {
		t.Fatalf("active flows after revocation = %d, want 0", n)
	}
	if udpEcho(t, c, "after revocation", 2*time.Second) {
		t.Error("echo after revocation")
	}
	ev := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Kind == ztna.EventRevoke && ev.Time.After(start) })
	if ev.Subject != "alice" || ev.Resource != "echo-udp.corp" {
		t.Errorf("revoke event = %+v", ev)
	}
}

// A UDP service that only a connector reaches: alice's datagrams go
// through the gateway and the connector to it; carol's do not.
func TestConnectorUDP(t *testing.T) {
	w := newWorld(t)
	connKey := mustKey(t)
	w.cfg.Connectors = []ztna.ConnectorConfig{{ID: "lab", Site: "berlin", PublicKey: connKey.PublicKey().String(), Address: "10.77.1.1"}}
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "lab-udp.corp", Kind: "udp", Port: 5353, Connector: "lab", ConnectorPort: 9009}}
	g := w.start(t, nil)
	ctx := testCtx(t, 45*time.Second)

	hidden := udpEchoServer(t)
	wg, err := ztna.PeerConfig(w.cfg, g.PublicKey(), connKey, netip.MustParseAddr("10.77.1.1"), "127.0.0.1:"+itoa(g.ListenPort()))
	if err != nil {
		t.Fatal(err)
	}
	conn := &ztna.Connector{Config: wg}
	defer conn.Close()
	if err := conn.ExportUDP(ctx, 9009, func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", hidden)
	}); err != nil {
		t.Fatal(err)
	}
	c, err := w.client(t, g, "alice").Dial(ctx, "udp", "lab-udp.corp:5353")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !udpEcho(t, c, "via the connector", 15*time.Second) {
		t.Fatal("no echo through the connector")
	}
	cc, err := w.client(t, g, "carol").Dial(ctx, "udp", "lab-udp.corp:5353")
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if udpEcho(t, cc, "carol", 2*time.Second) {
		t.Error("carol reached the connector's udp service")
	}
	allow := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Kind == ztna.EventDecision && ev.Subject == "alice" })
	if allow.Effect != "allow" || allow.Rule != "eng-lab-bench" || allow.Upstream != "10.77.1.1:9009" {
		t.Errorf("alice's decision = %+v", allow)
	}
}

// Rate limits apply to UDP flows: with one concurrent flow per user,
// alice's second flow (another source port) gets no answer while the
// first is live.
func TestUDPRateLimit(t *testing.T) {
	w := newWorld(t)
	w.cfg.RateLimits.PerUser.Concurrent = 1
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "echo-udp.corp", Kind: "udp", Port: 9, Upstreams: []string{udpEchoServer(t)}}}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)
	alice := w.client(t, g, "alice")
	c1, err := alice.Dial(ctx, "udp", "echo-udp.corp:9")
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	if !udpEcho(t, c1, "first flow", 10*time.Second) {
		t.Fatal("no echo on the first flow")
	}
	c2, err := alice.Dial(ctx, "udp", "echo-udp.corp:9")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if udpEcho(t, c2, "second flow", 2*time.Second) {
		t.Error("a second concurrent udp flow was answered")
	}
	ev := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Kind == ztna.EventDecision && ev.Effect == "deny" })
	if !strings.Contains(ev.Reason, "rate limited") {
		t.Errorf("second flow's decision = %+v", ev)
	}
	if !udpEcho(t, c1, "first flow still", 5*time.Second) {
		t.Error("the first flow stopped")
	}
}

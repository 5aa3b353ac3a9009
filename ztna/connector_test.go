package ztna_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gonaut/gonaut/ztna"
)

// A service that only a connector can reach (here: an echo server on
// loopback that the test gives only to the connector) is reached by alice
// through the gateway and the connector, decided by policy with the
// connector's labels; carol is refused.
func TestConnector(t *testing.T) {
	w := newWorld(t)
	connKey := mustKey(t)
	w.cfg.Connectors = []ztna.ConnectorConfig{{ID: "lab", Site: "berlin", PublicKey: connKey.PublicKey().String(), Address: "10.77.1.1"}}
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Connector: "lab", ConnectorPort: 7007}}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)

	hidden := echoServer(t)
	wg, err := ztna.PeerConfig(w.cfg, g.PublicKey(), connKey, netip.MustParseAddr("10.77.1.1"), "127.0.0.1:"+itoa(g.ListenPort()))
	if err != nil {
		t.Fatal(err)
	}
	conn := &ztna.Connector{Config: wg}
	defer conn.Close()
	if err := conn.Export(ctx, 7007, func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", hidden)
	}); err != nil {
		t.Fatal(err)
	}

	c, err := w.client(t, g, "alice").Dial(ctx, "tcp", "echo.corp:7")
	if err != nil {
		t.Fatalf("alice through the connector: %v", err)
	}
	echoOnce(t, c, "via the connector")
	c.Close()
	if _, err := w.client(t, g, "carol").Dial(ctx, "tcp", "echo.corp:7"); err == nil {
		t.Error("carol reached the connector's service")
	}
	flow := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Kind == ztna.EventFlow && ev.Subject == "alice" })
	if flow.Upstream != "10.77.1.1:7007" || flow.BytesIn != 17 {
		t.Errorf("flow through the connector: %+v", flow)
	}
}

package ztna_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/gonaut/gonaut/tunnel"
	"github.com/gonaut/gonaut/usbip"
	"github.com/gonaut/gonaut/usbip/sim"
	"github.com/gonaut/gonaut/ztna"
)

// A gateway in front of a private web app, and an application reaching it
// by name through an embedded Client.
func Example() {
	// The private app, on loopback.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	app := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from the wiki")
	})}
	go app.Serve(ln)
	defer app.Close()

	// A policy, a user with a device, and the resource.
	dir, _ := os.MkdirTemp("", "ztna-example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(`rules:
  - id: team-wiki
    effect: allow
    resources: {kind: http, names: [wiki.corp]}
    when: '"team" in subject.groups'
`), 0o600)
	gwKey, _ := tunnel.GeneratePrivateKey()
	devKey, _ := tunnel.GeneratePrivateKey()
	cfg := &ztna.Config{
		PrivateKey: gwKey.String(),
		Address:    "10.77.0.1/16",
		Policies:   []string{"policy.yaml"},
		Dir:        dir,
		Users:      []ztna.UserConfig{{ID: "ann", Groups: []string{"team"}}},
		Devices:    []ztna.DeviceConfig{{ID: "ann-laptop", User: "ann", PublicKey: devKey.PublicKey().String(), Address: "10.77.0.2"}},
		Resources:  []ztna.ResourceConfig{{Name: "wiki.corp", Kind: ztna.KindHTTP, Upstreams: []string{ln.Addr().String()}}},
	}
	g, err := ztna.New(context.Background(), cfg, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer g.Close()

	// The application: its wg-quick configuration, as `gateway peer add`
	// prints it, and a Client.
	wg, _ := ztna.PeerConfig(cfg, g.PublicKey(), devKey, netip.MustParseAddr("10.77.0.2"), fmt.Sprintf("127.0.0.1:%d", g.ListenPort()))
	c := &ztna.Client{Config: wg}
	defer c.Close()
	hc := c.HTTPClient()
	resp, err := hc.Get("http://wiki.corp/")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	hc.CloseIdleConnections()
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 hello from the wiki
}

// A connector on a lab bench shares a (simulated) USB keyboard; an
// application lists it through the gateway with the Go USB/IP client, as
// policy allows for devices at the bench's site.
func ExampleConnector() {
	dir, _ := os.MkdirTemp("", "ztna-example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(`rules:
  - id: bench-usb
    effect: allow
    resources: {kind: usb}
    when: '"team" in subject.groups && resource.labels.site == "berlin"'
`), 0o600)
	gwKey, _ := tunnel.GeneratePrivateKey()
	devKey, _ := tunnel.GeneratePrivateKey()
	benchKey, _ := tunnel.GeneratePrivateKey()
	cfg := &ztna.Config{
		PrivateKey: gwKey.String(),
		Address:    "10.77.0.1/16",
		Policies:   []string{"policy.yaml"},
		Dir:        dir,
		Users:      []ztna.UserConfig{{ID: "ann", Groups: []string{"team"}}},
		Devices:    []ztna.DeviceConfig{{ID: "ann-laptop", User: "ann", PublicKey: devKey.PublicKey().String(), Address: "10.77.0.2"}},
		Connectors: []ztna.ConnectorConfig{{ID: "bench-1", Site: "berlin", PublicKey: benchKey.PublicKey().String(), Address: "10.77.1.1"}},
		Resources:  []ztna.ResourceConfig{{Name: "usb.bench", Kind: ztna.KindUSB, Connector: "bench-1"}},
	}
	g, err := ztna.New(context.Background(), cfg, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer g.Close()
	endpoint := fmt.Sprintf("127.0.0.1:%d", g.ListenPort())

	// On the bench: the connector and its device.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wg, _ := ztna.PeerConfig(cfg, g.PublicKey(), benchKey, netip.MustParseAddr("10.77.1.1"), endpoint)
	bench := &ztna.Connector{Config: wg}
	defer bench.Close()
	if _, err := bench.AddUSBDevice(ctx, "1-1", sim.NewKeyboard("KB-1")); err != nil {
		fmt.Println(err)
		return
	}

	// On ann's laptop: list the devices through the gateway (the gateway
	// learns of the bench's devices within about a second).
	wg, _ = ztna.PeerConfig(cfg, g.PublicKey(), devKey, netip.MustParseAddr("10.77.0.2"), endpoint)
	c := &ztna.Client{Config: wg}
	defer c.Close()
	for ctx.Err() == nil {
		conn, err := c.Dial(ctx, "tcp", "usb.bench:3240")
		if err != nil {
			fmt.Println(err)
			return
		}
		devs, err := usbip.List(ctx, conn)
		conn.Close()
		if err == nil && len(devs) > 0 {
			fmt.Printf("%s %04x (pid.codes)\n", devs[0].BusID, devs[0].Vendor)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Output: 1-1 1209 (pid.codes)
}

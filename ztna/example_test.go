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

	"github.com/gonaut/gonaut/tunnel"
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
		Resources:  []ztna.ResourceConfig{{Name: "wiki.corp", Kind: "http", Upstreams: []string{ln.Addr().String()}}},
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

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gonaut/gonaut/tunnel"
	"github.com/gonaut/gonaut/ztna"
)

// TestRun starts a gateway in front of a loopback web app, writes the
// wg-quick file of a device, and fetches the app by name with run.
func TestRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "wiki for %v\n", r.Header.Get(ztna.IdentityHeader) != "")
	})}
	go app.Serve(ln)
	defer app.Close()

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte("rules:\n  - id: all\n    effect: allow\n"), 0o600)
	gwKey, _ := tunnel.GeneratePrivateKey()
	devKey, _ := tunnel.GeneratePrivateKey()
	cfg := &ztna.Config{
		PrivateKey: gwKey.String(), Address: "10.77.0.1/16", Policies: []string{"policy.yaml"}, Dir: dir,
		Users:     []ztna.UserConfig{{ID: "ann"}},
		Devices:   []ztna.DeviceConfig{{ID: "ann-laptop", User: "ann", PublicKey: devKey.PublicKey().String(), Address: "10.77.0.2"}},
		Resources: []ztna.ResourceConfig{{Name: "wiki.corp", Kind: ztna.KindHTTP, Upstreams: []string{ln.Addr().String()}}},
	}
	g, err := ztna.New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	wg, err := ztna.PeerConfig(cfg, g.PublicKey(), devKey, netip.MustParseAddr("10.77.0.2"), fmt.Sprintf("127.0.0.1:%d", g.ListenPort()))
	if err != nil {
		t.Fatal(err)
	}
	text, _ := wg.MarshalText()
	conf := filepath.Join(dir, "ann.conf")
	os.WriteFile(conf, text, 0o600)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, conf, "http://wiki.corp/"); err != nil {
		t.Fatal(err)
	}
	if out.String() != "200 OK\nwiki for true\n" {
		t.Errorf("output %q", out.String())
	}
}

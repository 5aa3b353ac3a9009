package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/tunnel"
	"github.com/gonaut/gonaut/ztna"
)

// `gateway peer add NAME --connector SITE` adds a connector, and the
// wg-quick configuration it prints is what a ztna.Connector runs: a
// device added next gets another address and reaches a service the
// connector exports.
func TestPeerAddConnector(t *testing.T) {
	dir := t.TempDir()
	key, err := tunnel.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "gateway.yaml")
	base := "private_key: " + key.String() + "\naddress: 10.77.0.1/16\nusers: [{id: ann, groups: [lab]}]\npolicy_templates: []\n"
	if err := os.WriteFile(cfgPath, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	add := func(args ...string) (string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		args = append([]string{"peer", "add"}, append(args, "--config", cfgPath, "--endpoint", "127.0.0.1:1", "--no-qr")...)
		if code := runMain(context.Background(), args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		return out.String(), errb.String()
	}
	connConf, msg := add("bench-1", "--connector", "berlin")
	if !strings.Contains(msg, `connector "bench-1" at site "berlin"`) {
		t.Errorf("peer add --connector said %q", msg)
	}
	devConf, _ := add("ann-laptop", "--user", "ann")
	var errb bytes.Buffer
	if code := runMain(context.Background(), []string{"peer", "add", "x", "--user", "ann", "--connector", "s", "--config", cfgPath}, io.Discard, &errb); code == 0 {
		t.Error("peer add accepted both --user and --connector")
	}

	cfg, err := ztna.ReadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Connectors) != 1 || cfg.Connectors[0].ID != "bench-1" || cfg.Connectors[0].Site != "berlin" {
		t.Fatalf("connectors = %+v", cfg.Connectors)
	}
	if len(cfg.Devices) != 1 || cfg.Devices[0].Address == cfg.Connectors[0].Address {
		t.Fatalf("device %+v shares the connector's address %s", cfg.Devices, cfg.Connectors[0].Address)
	}

	// A resource on the connector, allowed to the lab group at the
	// connector's site.
	pol := filepath.Join(dir, "policy.yaml")
	os.WriteFile(pol, []byte("rules:\n  - id: lab-bench\n    effect: allow\n    when: '\"lab\" in subject.groups && resource.labels.site == \"berlin\"'\n"), 0o600)
	data, _ := os.ReadFile(cfgPath)
	data = append(data, []byte("policies: [policy.yaml]\nresources:\n  - {name: echo.bench, kind: tcp, port: 7, connector: bench-1}\n")...)
	os.WriteFile(cfgPath, bytes.Replace(data, []byte("policy_templates: []\n"), nil, 1), 0o600)
	cfg, err = ztna.ReadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	g, err := ztna.New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	endpoint := fmt.Sprintf("127.0.0.1:%d", g.ListenPort())
	parse := func(text string) tunnel.Config {
		t.Helper()
		tc, err := tunnel.ParseConfig([]byte(strings.Replace(text, "127.0.0.1:1", endpoint, 1)))
		if err != nil {
			t.Fatalf("printed config: %v\n%s", err, text)
		}
		return tc
	}
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := &ztna.Connector{Config: parse(connConf)}
	defer conn.Close()
	if err := conn.Export(ctx, 7, func(ctx context.Context) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", echo.Addr().String())
	}); err != nil {
		t.Fatal(err)
	}
	client := &ztna.Client{Config: parse(devConf)}
	defer client.Close()
	c, err := client.Dial(ctx, "tcp", "echo.bench:7")
	if err != nil {
		t.Fatalf("dial through the connector: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "bench")
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "bench" {
		t.Fatalf("echo through the connector: %q, %v", buf, err)
	}
}

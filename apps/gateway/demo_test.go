package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gonaut/gonaut/tunnel"
	"github.com/gonaut/gonaut/ztna"
)

// TestDemoAppChecksAudience takes an identity assertion the gateway issued
// for wiki.office (as wiki.office's upstream, or anyone who can read its
// traffic, can) and replays it straight to the books.office demo app with
// Host: wiki.office: the app refuses it, because it checks the audience
// against the resource it is published as, not against the Host.
func TestDemoAppChecksAudience(t *testing.T) {
	var gw atomic.Pointer[ztna.Gateway]
	jwks := func() []byte {
		if g := gw.Load(); g != nil {
			return httpBody(g.JWKSHandler())
		}
		return nil
	}
	serve := func(h http.Handler) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: h}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		return ln.Addr().String()
	}
	stolen := make(chan string, 1)
	wikiUp := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case stolen <- r.Header.Get(ztna.IdentityHeader):
		default:
		}
		io.WriteString(w, "wiki\n")
	}))
	books := serve(demoApp("books", "books.office", jwks))

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "all.yaml"), []byte("rules:\n  - id: all\n    effect: allow\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	gkey, _ := tunnel.GeneratePrivateKey()
	dkey, _ := tunnel.GeneratePrivateKey()
	daddr := netip.MustParseAddr("10.77.0.2")
	cfg := &ztna.Config{
		PrivateKey: gkey.String(), Address: "10.77.0.1/16", Dir: dir, Policies: []string{"all.yaml"},
		Users:   []ztna.UserConfig{{ID: "ann", Email: "ann@example.com", Groups: []string{"team"}}},
		Devices: []ztna.DeviceConfig{{ID: "ann-laptop", User: "ann", PublicKey: dkey.PublicKey().String(), Address: daddr.String()}},
		Resources: []ztna.ResourceConfig{
			{Name: "wiki.office", Kind: "http", Upstreams: []string{wikiUp}},
			{Name: "books.office", Kind: "http", Upstreams: []string{books}},
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g, err := ztna.New(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	gw.Store(g)
	tc, err := ztna.PeerConfig(cfg, g.PublicKey(), dkey, daddr, fmt.Sprintf("127.0.0.1:%d", g.ListenPort()))
	if err != nil {
		t.Fatal(err)
	}
	c := &ztna.Client{Config: tc}
	defer c.Close()
	hc := c.HTTPClient()
	defer hc.CloseIdleConnections()
	get := func(hc *http.Client, url, host, token string) string {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		req.Host = host
		if token != "" {
			req.Header.Set(ztna.IdentityHeader, token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}

	// Through the gateway, books.office knows ann.
	if body := get(hc, "http://books.office/", "", ""); !strings.Contains(body, "you are: ann <ann@example.com>") {
		t.Fatalf("books.office through the gateway: %q", body)
	}
	get(hc, "http://wiki.office/", "", "")
	tok := <-stolen
	if tok == "" {
		t.Fatal("wiki.office's upstream received no assertion")
	}
	// The assertion is good for wiki.office ...
	wikiApp := serve(demoApp("wiki", "wiki.office", jwks))
	if body := get(http.DefaultClient, "http://"+wikiApp+"/", "wiki.office", tok); !strings.Contains(body, "you are: ann <") {
		t.Fatalf("wiki app with a wiki.office assertion: %q", body)
	}
	// ... and for nothing else, whatever the Host says.
	body := get(http.DefaultClient, "http://"+books+"/", "wiki.office", tok)
	if strings.Contains(body, "you are: ann") || !strings.Contains(body, "unverified") || !strings.Contains(body, "audience") {
		t.Fatalf("books app accepted a wiki.office assertion with Host wiki.office: %q", body)
	}
}

// TestDemoRemovesItsTemporaryDirectory runs `gateway demo` as a user
// would, without --dir: it runs with analytics on, and after Ctrl-C its
// temporary directory, with the gateway's key and the device's config, is
// gone.
func TestDemoRemovesItsTemporaryDirectory(t *testing.T) {
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- runMain(ctx, []string{"demo", "--port", "0", "--admin", "", "--no-qr", "--log-level", "error"}, out, out)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "Ready.") {
		if time.Now().After(deadline) {
			t.Fatalf("demo did not start:\n%s", out.String())
		}
		select {
		case code := <-done:
			t.Fatalf("demo exited %d:\n%s", code, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	m := regexp.MustCompile(`config:\s+(\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no config path printed:\n%s", out.String())
	}
	dir := filepath.Dir(m[1])
	if !strings.Contains(out.String(), dir+" is removed when the demo stops") {
		t.Errorf("the demo does not say its directory goes away:\n%s", out.String())
	}
	cfg, err := ztna.ReadConfig(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Analytics.Enabled {
		t.Error("the demo runs without analytics: what a new user does raises no alert")
	}
	for _, f := range []string{"gateway.key", "ann.conf"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("demo file %s: %v", f, err)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("demo exit %d:\n%s", code, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("demo left %s behind (%v)", dir, err)
	}
}

// TestDemoSaysWhatWGQuickNeeds: the demo prints a config with a DNS line
// and sudo wg-quick up; on minimal Debian that fails without resolvconf,
// so the printed text says, next to the command and after the config
// (which tests cut out up to "On Linux:"), to install openresolv.
func TestDemoSaysWhatWGQuickNeeds(t *testing.T) {
	var out strings.Builder
	peer := []byte("[Interface]\nPrivateKey = x\nAddress = 10.77.0.2/32\nDNS = 10.77.0.1\n\n[Peer]\n")
	printDemo(&out, "gateway.yaml", "ann.conf", peer, true, "")
	text := out.String()
	install, up := strings.Index(text, "sudo apt install openresolv"), strings.Index(text, "On Linux:   sudo wg-quick up ann.conf\n")
	if install < 0 || up < 0 || install < up || install-up > 120 {
		t.Errorf("the demo does not say to install openresolv next to wg-quick up:\n%s", text)
	}
	out.Reset()
	printDemo(&out, "gateway.yaml", "ann.conf", []byte("[Interface]\nPrivateKey = x\n"), true, "")
	if strings.Contains(out.String(), "openresolv") {
		t.Errorf("a config without DNS talks about openresolv:\n%s", out.String())
	}
}

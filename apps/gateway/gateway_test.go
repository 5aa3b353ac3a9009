package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gonaut/gonaut/tunnel"
	"github.com/gonaut/gonaut/ztna"
)

// syncBuffer is a bytes.Buffer safe for a running command and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls out until re matches, and returns the submatches.
func waitFor(t *testing.T, out *syncBuffer, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := rx.FindStringSubmatch(out.String()); m != nil {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("output never matched %q:\n%s", re, out.String())
	return nil
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// testGateway is `gateway run` in this process, with a config file the
// test can edit.
type testGateway struct {
	dir, cfg string
	port     int
	admin    string
	out      *syncBuffer
	stop     func()
}

const testPolicy = `rules:
  - id: team-wiki
    effect: allow
    resources: {kind: http, names: [wiki.corp]}
    when: '"team" in subject.groups'
`

func startRun(t *testing.T, upstream string) *testGateway {
	t.Helper()
	dir := t.TempDir()
	tg := &testGateway{dir: dir, cfg: filepath.Join(dir, "gateway.yaml"), port: freeUDPPort(t), out: &syncBuffer{}}
	if code := runMain(context.Background(), []string{"keygen", "--out", filepath.Join(dir, "gw.key")}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("keygen exit %d", code)
	}
	os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(testPolicy), 0o600)
	cfg := fmt.Sprintf(`# test gateway
listen_port: %d
private_key_file: gw.key
address: 10.77.0.1/16
admin: 127.0.0.1:0
audit_file: audit.jsonl
policies: [policy.yaml]
users:
  - {id: ann, groups: [team]}
  - {id: carol, groups: [sales]}
resources:
  - name: wiki.corp
    kind: http
    upstreams: [%q]
`, tg.port, upstream)
	if err := os.WriteFile(tg.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- runMain(ctx, []string{"run", "--config", tg.cfg, "--log-level", "error"}, tg.out, tg.out)
	}()
	tg.stop = func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("run exit %d:\n%s", code, tg.out.String())
		}
	}
	t.Cleanup(func() {
		if tg.stop != nil {
			tg.stop()
		}
	})
	tg.admin = waitFor(t, tg.out, `admin: +http://(\S+)/metrics`)[1]
	waitFor(t, tg.out, `gateway: +WireGuard on UDP port`)
	return tg
}

// peerAdd runs `gateway peer add` and returns the wg-quick text it printed.
func (tg *testGateway) peerAdd(t *testing.T, name, user, endpoint string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := runMain(context.Background(), []string{"peer", "add", name, "--user", user, "--config", tg.cfg, "--endpoint", endpoint}, &out, &errb); code != 0 {
		t.Fatalf("peer add exit %d: %s", code, errb.String())
	}
	text, qr, ok := strings.Cut(out.String(), "\n\n█")
	if !ok || !strings.Contains(text, "[Peer]") {
		t.Fatalf("peer add printed no config followed by a QR code: %q", out.String())
	}
	if !strings.Contains(qr, "▀") {
		t.Errorf("QR code cut short: %q", qr)
	}
	return text + "\n"
}

// hup sends this process SIGHUP, which the running gateway catches, and
// waits for the n-th reload message.
func (tg *testGateway) hup(t *testing.T, n int, want string) {
	t.Helper()
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, tg.out, fmt.Sprintf(`(?s)(%s.*){%d}`, want, n))
}

func whoamiServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "wiki %s %s identity=%t\n", r.Method, r.URL.Path, r.Header.Get(ztna.IdentityHeader) != "")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestRunReloadMetrics runs the gateway command, adds a peer with peer
// add, applies it with SIGHUP, reaches the wiki through a ztna.Client with
// the printed config, rejects a broken reload and reads /metrics.
func TestRunReloadMetrics(t *testing.T) {
	tg := startRun(t, whoamiServer(t))
	conf := tg.peerAdd(t, "ann-laptop", "ann", fmt.Sprintf("127.0.0.1:%d", tg.port))
	tc, err := tunnel.ParseConfig([]byte(conf))
	if err != nil {
		t.Fatalf("peer add printed an invalid wg-quick file: %v\n%s", err, conf)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Before the reload the gateway does not know the device: the
	// WireGuard handshake itself fails.
	{
		probe := &ztna.Client{Config: tc}
		hc := probe.HTTPClient()
		sctx, scancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		req, _ := http.NewRequestWithContext(sctx, "GET", "http://10.78.0.1/", nil)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			t.Fatal("unknown device reached the gateway before the reload")
		}
		scancel()
		hc.CloseIdleConnections()
		probe.Close()
	}
	// A fresh client handshakes at once instead of waiting out the
	// failed handshake's retry timer.
	c := &ztna.Client{Config: tc}
	defer c.Close()
	hc := c.HTTPClient()
	defer hc.CloseIdleConnections()
	get := func() (int, string, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://wiki.corp/x", nil)
		resp, err := hc.Do(req)
		if err != nil {
			return 0, "", err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b), nil
	}
	tg.hup(t, 1, "reloaded")
	code, body, err := get()
	if err != nil || code != 200 || body != "wiki GET /x identity=true\n" {
		t.Fatalf("after reload: %d %q %v", code, body, err)
	}

	// A broken config is rejected and the running one stays.
	good, _ := os.ReadFile(tg.cfg)
	os.WriteFile(tg.cfg, append(good, []byte("colour: blue\n")...), 0o600)
	tg.hup(t, 1, `reload rejected: .*gateway.yaml:\d+: field colour not found`)
	if code, _, err := get(); err != nil || code != 200 {
		t.Fatalf("after a rejected reload: %d %v", code, err)
	}
	os.WriteFile(tg.cfg, good, 0o600)

	resp, err := http.Get("http://" + tg.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`gonaut_ztna_decisions_total\{[^}]*effect="allow"[^}]*\} [1-9]`).Match(m) {
		t.Errorf("/metrics lacks allowed decisions:\n%s", grepLines(string(m), "gonaut_ztna"))
	}
	for _, p := range []string{"/healthz", "/readyz", ztna.JWKSPath} {
		resp, err := http.Get("http://" + tg.admin + p)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("GET %s: %v %v", p, resp, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
	tg.stop()
	tg.stop = nil
	if !strings.Contains(tg.out.String(), "gateway stopped") {
		t.Errorf("no clean stop:\n%s", tg.out.String())
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestRunRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.yaml")
	os.WriteFile(p, []byte("address: 10.77.0.1/16\nresources:\n  - name: a.corp\n    kind: tcp\n    prot: 1\n"), 0o600)
	var errb bytes.Buffer
	code := runMain(context.Background(), []string{"run", "--config", p}, io.Discard, &errb)
	if code != 1 || !strings.Contains(errb.String(), "bad.yaml:5: field prot not found") {
		t.Errorf("exit %d, stderr %q; want 1 and the line of the unknown key", code, errb.String())
	}
	if code := runMain(context.Background(), []string{"run"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("run without --config: exit %d, want 2", code)
	}
}

func TestKeygenVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runMain(context.Background(), []string{"keygen"}, &out, &errb); code != 0 {
		t.Fatal(code)
	}
	k, err := tunnel.ParseKey(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errb.String(), k.PublicKey().String()) {
		t.Errorf("public key %s not on stderr %q", k.PublicKey(), errb.String())
	}
	out.Reset()
	if code := runMain(context.Background(), []string{"version"}, &out, io.Discard); code != 0 || !strings.HasPrefix(out.String(), "gateway ") {
		t.Errorf("version: %d %q", code, out.String())
	}
}

// --- the stock path: Debian wireguard-go and wg in a network namespace ---

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("interop test needs root for ip netns and /dev/net/tun")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skip("interop test needs /dev/net/tun")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("interop test needs %s (Debian package in .ci/run)", tool)
		}
	}
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// stockPeer is Debian's wireguard-go on a TUN in a fresh network namespace
// joined to the host by a veth pair, with the kernel's TCP/IP, glibc's
// resolver and curl on top: what a user's Linux laptop runs.
type stockPeer struct {
	ns, iface    string
	hostIP, nsIP netip.Addr
}

func newStockPeer(t *testing.T) *stockPeer {
	t.Helper()
	id := randHex(4)
	b := make([]byte, 1)
	rand.Read(b)
	p := &stockPeer{
		ns: "gzt-" + id, iface: "wz" + id,
		hostIP: netip.AddrFrom4([4]byte{172, 30, b[0], 1}),
		nsIP:   netip.AddrFrom4([4]byte{172, 30, b[0], 2}),
	}
	vh, vn := "gz"+id+"h", "gz"+id+"n"
	sh(t, "ip", "netns", "add", p.ns)
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", p.ns).Run()
		exec.Command("ip", "link", "del", vh).Run()
		os.RemoveAll(filepath.Join("/etc/netns", p.ns))
		os.Remove(filepath.Join("/var/run/wireguard", p.iface+".sock"))
	})
	sh(t, "ip", "link", "add", vh, "type", "veth", "peer", "name", vn)
	sh(t, "ip", "link", "set", vn, "netns", p.ns)
	sh(t, "ip", "addr", "add", p.hostIP.String()+"/30", "dev", vh)
	sh(t, "ip", "link", "set", vh, "up")
	sh(t, "ip", "-n", p.ns, "addr", "add", p.nsIP.String()+"/30", "dev", vn)
	sh(t, "ip", "-n", p.ns, "link", "set", vn, "up")
	sh(t, "ip", "-n", p.ns, "link", "set", "lo", "up")

	cmd := exec.Command("ip", "netns", "exec", p.ns, "wireguard-go", "-f", p.iface)
	cmd.Env = append(os.Environ(), "WG_PROCESS_FOREGROUND=1", "LOG_LEVEL=error")
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("wireguard-go output:\n%s", logs.String())
		}
	})
	sock := filepath.Join("/var/run/wireguard", p.iface+".sock")
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i > 200 {
			t.Fatalf("wireguard-go did not create %s:\n%s", sock, logs.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
	return p
}

// up applies a wg-quick file the way wg-quick does: the [Interface] keys
// wg(8) does not know (Address, DNS) become ip addresses, routes for the
// peers' AllowedIPs and the namespace's resolv.conf.
func (p *stockPeer) up(t *testing.T, conf string) {
	t.Helper()
	tc, err := tunnel.ParseConfig([]byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	var wgconf []string
	for _, l := range strings.Split(conf, "\n") {
		k, _, _ := strings.Cut(l, "=")
		switch strings.TrimSpace(strings.ToLower(k)) {
		case "address", "dns":
			continue
		}
		wgconf = append(wgconf, l)
	}
	f := filepath.Join(t.TempDir(), "wg.conf")
	os.WriteFile(f, []byte(strings.Join(wgconf, "\n")), 0o600)
	sh(t, "ip", "netns", "exec", p.ns, "wg", "setconf", p.iface, f)
	for _, a := range tc.Addresses {
		sh(t, "ip", "-n", p.ns, "addr", "add", a.String(), "dev", p.iface)
	}
	sh(t, "ip", "-n", p.ns, "link", "set", p.iface, "mtu", "1420", "up")
	for _, peer := range tc.Peers {
		for _, r := range peer.AllowedIPs {
			sh(t, "ip", "-n", p.ns, "route", "add", r.String(), "dev", p.iface)
		}
	}
	os.MkdirAll(filepath.Join("/etc/netns", p.ns), 0o755)
	var rc strings.Builder
	for _, d := range tc.DNS {
		fmt.Fprintf(&rc, "nameserver %s\n", d)
	}
	fmt.Fprintf(&rc, "options timeout:2 attempts:2\n")
	os.WriteFile(filepath.Join("/etc/netns", p.ns, "resolv.conf"), []byte(rc.String()), 0o644)
}

func (p *stockPeer) exec(ctx context.Context, script string) (string, error) {
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", p.ns, "sh", "-c", script).CombinedOutput()
	return string(out), err
}

// TestStockWireGuardClient is the path a user takes: `gateway peer add`
// prints a wg-quick file, Debian's wireguard-go and wg bring it up, and
// curl reaches the wiki by name through the gateway's DNS. A peer whose key
// the gateway does not know gets nothing; a known user outside the policy
// gets 403.
func TestStockWireGuardClient(t *testing.T) {
	needTools(t, "ip", "wg", "wireguard-go", "curl")
	tg := startRun(t, whoamiServer(t))
	ann := newStockPeer(t)
	conf := tg.peerAdd(t, "ann-laptop", "ann", fmt.Sprintf("%s:%d", ann.hostIP, tg.port))
	carol := newStockPeer(t)
	carolConf := tg.peerAdd(t, "carol-laptop", "carol", fmt.Sprintf("%s:%d", carol.hostIP, tg.port))
	tg.hup(t, 1, "reloaded")
	ann.up(t, conf)
	carol.up(t, carolConf)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := ann.exec(ctx, "curl -sS --max-time 20 --retry 3 --retry-all-errors http://wiki.corp/hello")
	if err != nil || out != "wiki GET /hello identity=true\n" {
		t.Fatalf("ann: curl http://wiki.corp/hello: %v\n%s", err, out)
	}
	out, err = carol.exec(ctx, "curl -sS -o /dev/null -w '%{http_code}' --max-time 20 http://wiki.corp/hello")
	if err != nil || out != "403" {
		t.Errorf("carol (sales): %v %q, want 403", err, out)
	}
	// The same namespace with a key the gateway does not know: the
	// handshake is never answered and nothing gets through.
	stranger := filepath.Join(t.TempDir(), "stranger.key")
	k, _ := tunnel.GeneratePrivateKey()
	os.WriteFile(stranger, []byte(k.String()), 0o600)
	sh(t, "ip", "netns", "exec", ann.ns, "wg", "set", ann.iface, "private-key", stranger)
	out, err = ann.exec(ctx, "curl -sS --max-time 3 http://10.78.0.1/hello")
	if err == nil {
		t.Errorf("a peer with an unknown key reached the wiki: %q", out)
	}
}

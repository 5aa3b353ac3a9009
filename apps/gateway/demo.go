package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gonaut/gonaut/tunnel"
	"github.com/gonaut/gonaut/ztna"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

func init() {
	register(command{name: "demo", summary: "run a gateway with demo apps, users and policies; print a WireGuard config to connect", run: runDemo})
}

const demoUsage = `usage: gateway demo [--dir DIR] [--port PORT] [--endpoint HOST:PORT] [--admin ADDR] [--no-qr]
       [--console URL --token-file FILE [--device-key FILE] [--state-dir DIR] [--name NAME]]

Starts a gateway with two demo web apps (wiki.office, books.office), a demo
printer (printer.office:9100, an echo service), the small-business policy
template, a user "ann" in the team and a device for her, and prints the
device's wg-quick config and QR code. Connect a stock WireGuard client with
it, then open http://wiki.office/. The files go to DIR (default: a new
temporary directory, removed when the demo stops); with --dir, run
'gateway run --config DIR/gateway.yaml' to start the same gateway again.
Behavioural analytics are on: a burst of denials raises an alert. Ctrl-C
stops it.

With --console URL --token-file FILE the demo gateway registers with a
Gonaut console (e.g. 'console demo -token-file FILE'), takes its users,
devices, policies and more resources from the console and sends it its
events and status; see 'gateway run -h'. The console then decides who may
connect, so the printed config is that of a device enrolled there: give
--device-key FILE with the device's private key ('console demo
-device-key-file FILE' writes ann's laptop's; 'make run' does both).
`

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, demoUsage) }
	dir := fs.String("dir", "", "directory for the demo's key, config and peer file (default: a new temporary one)")
	port := fs.Int("port", 51820, "WireGuard UDP `PORT`")
	endpoint := fs.String("endpoint", "", "`HOST:PORT` clients reach the gateway at (default: this host's first non-loopback address)")
	admin := fs.String("admin", "127.0.0.1:9090", "admin `ADDR` for /metrics, /healthz, /readyz (empty: none)")
	noQR := fs.Bool("no-qr", false, "do not print a QR code")
	level := fs.String("log-level", "warn", "log level")
	devKeyFile := fs.String("device-key", "", "with --console: `FILE` holding the private key of a device enrolled in the console; the printed config is that device's")
	cf := addConsoleFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{2}
	}
	if fs.NArg() > 0 {
		return usageError{"demo takes no arguments"}
	}
	if *devKeyFile != "" && *cf.url == "" {
		return usageError{"--device-key needs --console URL"}
	}
	log, err := newLogger(stderr, *level)
	if err != nil {
		return usageError{err.Error()}
	}
	temp := *dir == ""
	if temp {
		// Keys and the console credential live here: nothing of the demo
		// stays behind once it stops.
		if *dir, err = os.MkdirTemp("", "gonaut-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(*dir)
	} else if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	if *endpoint == "" {
		*endpoint = net.JoinHostPort(hostAddress(), strconv.Itoa(*port))
	}

	var gw atomic.Pointer[ztna.Gateway]
	wiki, err := startDemoApp("wiki", "wiki.office", &gw)
	if err != nil {
		return err
	}
	defer wiki.Close()
	books, err := startDemoApp("books", "books.office", &gw)
	if err != nil {
		return err
	}
	defer books.Close()
	printer, err := startEcho()
	if err != nil {
		return err
	}
	defer printer.Close()

	cfgPath := filepath.Join(*dir, "gateway.yaml")
	if err := writeDemoConfig(cfgPath, *port, *endpoint, *admin, wiki.Addr().String(), books.Addr().String(), printer.Addr().String()); err != nil {
		return err
	}
	link, err := cf.open(ctx, log, filepath.Join(*dir, "console"))
	if err != nil {
		return err
	}
	// The device whose config is printed: a new one in the demo's own
	// config, or, with a console, one enrolled there.
	var peer tunnel.Config
	var consoleDev *consoleDevice
	switch {
	case link == nil:
		if peer, err = addPeer(cfgPath, "ann-laptop", "ann", "", ""); err != nil {
			return err
		}
	case *devKeyFile != "":
		if consoleDev, err = findConsoleDevice(*devKeyFile, link.first); err != nil {
			link.close()
			return err
		}
	}
	cfg, err := ztna.ReadConfig(cfgPath)
	if err != nil {
		if link != nil {
			link.close()
		}
		return err
	}
	return serve(ctx, cfgPath, cfg, log, 2*time.Second, stdout, func(g *ztna.Gateway) {
		gw.Store(g)
		ep := *endpoint
		if *port == 0 { // the port is known only now
			ep = net.JoinHostPort(hostOf(*endpoint), strconv.Itoa(g.ListenPort()))
		}
		if consoleDev != nil {
			peer, err = ztna.PeerConfig(g.Config(), g.PublicKey(), consoleDev.key, consoleDev.addr, ep)
			if err != nil {
				fmt.Fprintf(stderr, "demo: peer config: %v\n", err)
				return
			}
		} else if link != nil {
			fmt.Fprintf(stdout, "\nGonaut demo gateway, managed by the console at %s: enrol a device there\n(Devices), or give --device-key FILE with the private key of an enrolled one\nto have its wg-quick config printed here.\n", *cf.url)
			fmt.Fprintf(stdout, "Ready. Ctrl-C stops the gateway.\n")
			return
		}
		if len(peer.Peers) == 1 {
			peer.Peers[0].Endpoint = ep
		}
		text, err := peer.MarshalText()
		if err != nil {
			fmt.Fprintf(stderr, "demo: peer config: %v\n", err)
			return
		}
		peerPath := filepath.Join(*dir, "ann.conf")
		if err := os.WriteFile(peerPath, text, 0o600); err != nil {
			fmt.Fprintf(stderr, "demo: %v\n", err)
		}
		console := ""
		if link != nil {
			console = *cf.url
		}
		printDemo(stdout, cfgPath, peerPath, text, *noQR, console)
		if temp {
			fmt.Fprintf(stdout, "%s is removed when the demo stops; give --dir DIR to keep its files.\n", *dir)
		}
		fmt.Fprintf(stdout, "Ready. Ctrl-C stops the gateway.\n")
	}, link)
}

// consoleDevice is a device enrolled in the console whose private key
// the demo was given.
type consoleDevice struct {
	key  tunnel.Key
	addr netip.Addr
}

// findConsoleDevice reads a device's private key and finds the device in
// the console's bundle, for its tunnel address.
func findConsoleDevice(keyFile string, b *controlplane.Bundle) (*consoleDevice, error) {
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("device key: %w", err)
	}
	key, err := tunnel.ParseKey(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("device key %s: %w", keyFile, err)
	}
	pub := key.PublicKey().String()
	if b != nil {
		for _, d := range b.Devices {
			if d.PublicKey != pub {
				continue
			}
			a, err := netip.ParsePrefix(d.Address)
			if err != nil {
				if ad, err2 := netip.ParseAddr(d.Address); err2 == nil {
					a = netip.PrefixFrom(ad, ad.BitLen())
				} else {
					return nil, fmt.Errorf("device %s in the console: address %q: %v", d.Name, d.Address, err)
				}
			}
			return &consoleDevice{key: key, addr: a.Addr()}, nil
		}
	}
	return nil, fmt.Errorf("the device key in %s (public key %s) is not enrolled in the console", keyFile, pub)
}

func hostOf(hostport string) string {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	return h
}

func writeDemoConfig(path string, port int, endpoint, admin, wiki, books, printer string) error {
	key, err := tunnel.GeneratePrivateKey()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "gateway.key"), []byte(key.String()+"\n"), 0o600); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`# Gonaut demo gateway, written by 'gateway demo'.
listen_port: %d
private_key_file: gateway.key
address: 10.77.0.1/16
endpoint: %q
admin: %q
audit_file: audit.jsonl
policy_templates: [small-business]
users:
  - id: ann
    email: ann@example.com
    groups: [team]
  - id: root
    email: root@example.com
    groups: [admins]
    mfa: true
resources:
  - name: wiki.office
    kind: http
    labels: {app: wiki}
    upstreams: [%q]
    health_check: {interval: 5s, path: /healthz}
  - name: books.office
    kind: http
    labels: {app: accounting}
    upstreams: [%q]
  - name: printer.office
    kind: tcp
    port: 9100
    upstreams: [%q]
rate_limits:
  per_user: {flows_per_second: 50, burst: 100, concurrent: 256}
analytics: {enabled: true}
`, port, endpoint, admin, wiki, books, printer)
	return os.WriteFile(path, []byte(cfg), 0o600)
}

// printDemo shows the device's config and what to try; console is the
// console's URL when the gateway is managed by one.
func printDemo(w io.Writer, cfgPath, peerPath string, peer []byte, noQR bool, console string) {
	fmt.Fprintf(w, "\nGonaut demo gateway\n\nconfig:     %s\npeer file:  %s\n\n", cfgPath, peerPath)
	fmt.Fprintf(w, "Connect a stock WireGuard client as ann (team) with this config:\n\n%s\n", peer)
	if !noQR {
		qrPrint(w, string(peer))
	}
	fmt.Fprintf(w, "On Linux:   sudo wg-quick up %s\n", peerPath)
	if bytes.Contains(peer, []byte("\nDNS = ")) {
		// wg-quick hands the DNS line to resolvconf, which minimal
		// Debian and Ubuntu installs lack.
		fmt.Fprintf(w, "            (on minimal Debian or Ubuntu, first: sudo apt install openresolv;\n            wg-quick needs resolvconf for the DNS line, else \"resolvconf: command not found\")\n")
	}
	fmt.Fprint(w, `            curl http://wiki.office/            (allowed: team-apps)
            curl http://books.office/           (allowed: team-apps)
            printf hi | nc printer.office 9100  (allowed: team-printer)
On a phone: scan the QR code in the WireGuard app.
`)
	if console != "" {
		fmt.Fprintf(w, "Managed by the console at %s: users, devices and policies are decided there\n(disable ann-laptop under Devices and the tunnel is cut at once).\n\n", console)
		return
	}
	fmt.Fprintf(w, "More devices: gateway peer add NAME --user ann --config %s, then kill -HUP the gateway.\n\n", cfgPath)
}

// startDemoApp serves demoApp on a new loopback port.
func startDemoApp(name, resource string, gw *atomic.Pointer[ztna.Gateway]) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go http.Serve(ln, demoApp(name, resource, func() []byte {
		if g := gw.Load(); g != nil {
			return httpBody(g.JWKSHandler())
		}
		return nil
	}))
	return ln, nil
}

// demoApp is a small page that shows who the gateway says is calling,
// verified against the gateway's JWKS (nil: no gateway yet). An assertion
// counts only if it was issued for resource, the name this app is
// published as: never the request's Host, which whoever holds an
// assertion for another resource could set to that resource's name.
func demoApp(name, resource string, jwks func() []byte) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		who := "nobody (no identity assertion)"
		if keys := jwks(); keys != nil {
			if c, err := ztna.VerifyAssertion(keys, r.Header.Get(ztna.IdentityHeader), resource, time.Now()); err == nil {
				who = fmt.Sprintf("%s <%s> on device %s, groups %v", c.Subject, c.Email, c.Device, c.Groups)
			} else {
				who = "unverified: " + err.Error()
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "Hello from the demo %s app at %s.\nThe gateway says you are: %s\n", name, html.EscapeString(resource), who)
	})
	return mux
}

func httpBody(h http.Handler) []byte {
	rec := &bodyRecorder{header: http.Header{}}
	h.ServeHTTP(rec, &http.Request{Method: "GET"})
	return rec.body
}

type bodyRecorder struct {
	header http.Header
	body   []byte
}

func (b *bodyRecorder) Header() http.Header { return b.header }
func (b *bodyRecorder) Write(p []byte) (int, error) {
	b.body = append(b.body, p...)
	return len(p), nil
}
func (b *bodyRecorder) WriteHeader(int) {}

func startEcho() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln, nil
}

// hostAddress is this host's first non-loopback IPv4 address, or
// 127.0.0.1.
func hostAddress() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
				return ipn.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

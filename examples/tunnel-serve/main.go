// Command tunnel-serve is a WireGuard peer that needs no root and no TUN
// device: it serves HTTP on port 80 of its tunnel address, answers ping
// there, and prints a wg-quick configuration that any stock WireGuard
// client (wg-quick, the mobile and desktop apps) can use to reach it.
//
//	go run ./examples/tunnel-serve -listen-port 51820 -address 10.77.0.1/24
//
// Without -peer-public-key it generates the peer's key pair too, so the
// printed configuration is complete; with it, fill in the peer's private
// key yourself. Then, on the peer: wg-quick up ./peer.conf; curl http://10.77.0.1/
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gonaut/gonaut/internal/cli"
	"github.com/gonaut/gonaut/tunnel"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, nil); err != nil {
		cli.Fail("tunnel-serve", err)
	}
}

// run is main without the process. ready, if not nil, receives the tunnel
// once it serves.
func run(ctx context.Context, args []string, stdout io.Writer, ready chan<- *tunnel.Tunnel) error {
	fs := cli.DescribeSet(flag.NewFlagSet("tunnel-serve", flag.ContinueOnError), "[flags]",
		"A WireGuard peer that needs no root and no TUN device: it serves HTTP on port 80\n"+
			"of its tunnel address and prints a wg-quick configuration for the other end.")
	privFlag := fs.String("private-key", "", "this end's private key, base64 (generated when absent)")
	port := fs.Int("listen-port", 51820, "UDP port to listen on (0 picks one)")
	addrFlag := fs.String("address", "10.77.0.1/24", "this end's tunnel address, CIDR")
	peerPub := fs.String("peer-public-key", "", "the peer's public key, base64 (a key pair is generated when absent)")
	peerIPs := fs.String("peer-allowed-ips", "", "the peer's tunnel addresses, CIDR[,CIDR] (default: the next address of -address)")
	peerEndpoint := fs.String("peer-endpoint", "", "the peer's UDP address HOST:PORT (optional: it can roam to us)")
	advertise := fs.String("public-host", "", "host or IP the peer uses to reach this machine, for the printed config (default: this machine's outbound address)")
	verbose := fs.Bool("v", false, "log WireGuard events to stderr")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}

	var priv tunnel.Key
	var err error
	if *privFlag != "" {
		priv, err = tunnel.ParseKey(*privFlag)
	} else {
		priv, err = tunnel.GeneratePrivateKey()
	}
	if err != nil {
		return err
	}
	addr, err := netip.ParsePrefix(*addrFlag)
	if err != nil {
		return fmt.Errorf("-address: %w", err)
	}

	// The peer: given, or generated so that the printed config is whole.
	var peerPriv tunnel.Key
	peer := tunnel.PeerConfig{Endpoint: *peerEndpoint}
	if *peerPub != "" {
		if peer.PublicKey, err = tunnel.ParseKey(*peerPub); err != nil {
			return fmt.Errorf("-peer-public-key: %w", err)
		}
	} else {
		if peerPriv, err = tunnel.GeneratePrivateKey(); err != nil {
			return err
		}
		peer.PublicKey = peerPriv.PublicKey()
	}
	if *peerIPs != "" {
		for _, s := range strings.Split(*peerIPs, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(s))
			if err != nil {
				return fmt.Errorf("-peer-allowed-ips: %w", err)
			}
			peer.AllowedIPs = append(peer.AllowedIPs, p)
		}
	} else {
		next := addr.Addr().Next()
		peer.AllowedIPs = []netip.Prefix{netip.PrefixFrom(next, next.BitLen())}
	}

	opts := &tunnel.Options{}
	if *verbose {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	tun, err := tunnel.New(ctx, tunnel.Config{
		PrivateKey: priv,
		ListenPort: *port,
		Addresses:  []netip.Prefix{addr},
		Peers:      []tunnel.PeerConfig{peer},
	}, opts)
	if err != nil {
		return err
	}
	defer tun.Close()

	l, err := tun.Listen("tcp", netip.AddrPortFrom(addr.Addr(), 80).String())
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "Hello %s, from Gonaut's userspace WireGuard at %v.\n", r.RemoteAddr, addr.Addr())
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go srv.Serve(l)
	defer srv.Close()

	host := *advertise
	if host == "" {
		host = outboundIP()
	}
	fmt.Fprintf(stdout, "public key: %s\n", tun.PublicKey())
	fmt.Fprintf(stdout, "serving http://%v/ inside the tunnel (UDP port %d)\n\n", addr.Addr(), tun.ListenPort())
	fmt.Fprintf(stdout, "# wg-quick config for the peer:\n%s", peerConfig(tun, peerPriv, peer, host))
	if ready != nil {
		ready <- tun
	}
	<-ctx.Done()
	return nil
}

// peerConfig renders the other end's wg-quick file.
func peerConfig(tun *tunnel.Tunnel, peerPriv tunnel.Key, peer tunnel.PeerConfig, host string) string {
	placeholder := peerPriv.IsZero()
	if placeholder {
		peerPriv = tunnel.Key{1} // any valid key, replaced below
	}
	var self []netip.Prefix
	for _, a := range tun.Addresses() {
		self = append(self, netip.PrefixFrom(a, a.BitLen()))
	}
	c := tunnel.Config{
		PrivateKey: peerPriv,
		Addresses:  peer.AllowedIPs,
		Peers: []tunnel.PeerConfig{{
			PublicKey:           tun.PublicKey(),
			AllowedIPs:          self,
			Endpoint:            net.JoinHostPort(host, fmt.Sprint(tun.ListenPort())),
			PersistentKeepalive: 25 * time.Second,
		}},
	}
	text, err := c.MarshalText()
	if err != nil {
		return "# " + err.Error() + "\n"
	}
	s := string(text)
	if placeholder {
		s = strings.Replace(s, peerPriv.String(), "<the peer's private key>", 1)
	}
	return s
}

// outboundIP is the local address of the default route, or 127.0.0.1.
func outboundIP() string {
	c, err := net.Dial("udp", "192.0.2.1:9") // connect only; no packet is sent
	if err != nil {
		return "127.0.0.1"
	}
	defer c.Close()
	if ua, ok := c.LocalAddr().(*net.UDPAddr); ok {
		return ua.IP.String()
	}
	return "127.0.0.1"
}

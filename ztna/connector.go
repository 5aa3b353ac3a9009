package ztna

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"sync"

	"github.com/gonaut/gonaut/tunnel"
)

// peers are the tunnel peers of a state: the directory's devices and the
// connectors.
func (st *state) peers() []tunnel.PeerConfig {
	ps := st.dir.Peers()
	for _, c := range st.cfg.Connectors {
		k, _ := tunnel.ParseKey(c.PublicKey)
		a := netip.MustParseAddr(c.Address)
		ps = append(ps, tunnel.PeerConfig{PublicKey: k, AllowedIPs: []netip.Prefix{netip.PrefixFrom(a, a.BitLen())}})
	}
	return ps
}

// dialTunnel dials a connector's service through the tunnel.
func (g *Gateway) dialTunnel(ctx context.Context, network, addr string) (net.Conn, error) {
	return g.tun.Dial(ctx, network, addr)
}

func connectorPort(rc ResourceConfig) uint16 {
	if rc.ConnectorPort != 0 {
		return uint16(rc.ConnectorPort)
	}
	if rc.Port != 0 {
		return uint16(rc.Port)
	}
	return defaultPorts[rc.Kind]
}

func withLabels(l map[string]string, kv ...string) map[string]string {
	out := maps.Clone(l)
	if out == nil {
		out = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

// Connector hosts resources where the gateway cannot dial them — a service
// behind NAT on an IoT device or a customer site. It is a WireGuard peer
// that dials out to the gateway (its wg-quick configuration names the
// gateway as its only peer, with a persistent keepalive so that NAT
// mappings stay open and the gateway learns where it is after network
// changes), and serves each exported service on a port of its tunnel
// address. The gateway decides every flow by policy before it reaches the
// connector; the connector accepts connections only from the gateway.
//
// Set Config, then Export services; Close stops everything. All methods are
// safe for concurrent use.
type Connector struct {
	// Config is the connector's tunnel: its key and address as in the
	// gateway's connectors section, the gateway as its one peer.
	Config tunnel.Config
	// Logger receives diagnostics. Default: discard.
	Logger *slog.Logger

	mu sync.Mutex
	// guarded by mu
	tun    *tunnel.Tunnel
	lns    []net.Listener
	closed bool
	wg     sync.WaitGroup
}

func (c *Connector) up(ctx context.Context) (*tunnel.Tunnel, error) {
	if c.closed {
		return nil, ErrClosed
	}
	if c.tun != nil {
		return c.tun, nil
	}
	t, err := tunnel.New(ctx, c.Config, &tunnel.Options{Logger: c.Logger})
	if err != nil {
		return nil, fmt.Errorf("ztna: connector: %w", err)
	}
	c.tun = t
	return t, nil
}

// Export serves port of the connector's tunnel address: every connection
// the gateway sends there is spliced to a connection from dial (for
// example to a local service or device). It starts the tunnel on first
// use.
func (c *Connector) Export(ctx context.Context, port int, dial func(ctx context.Context) (net.Conn, error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.up(ctx)
	if err != nil {
		return err
	}
	ln, err := t.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		return fmt.Errorf("ztna: connector: %w", err)
	}
	c.lns = append(c.lns, ln)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				defer in.Close()
				out, err := dial(context.Background())
				if err != nil {
					return
				}
				defer out.Close()
				done := make(chan struct{})
				go func() {
					io.Copy(out, in)
					if cw, ok := out.(closeWriter); ok {
						cw.CloseWrite()
					}
					close(done)
				}()
				io.Copy(in, out)
				in.Close()
				<-done
			}()
		}
	}()
	return nil
}

// Listen returns a listener on port of the connector's tunnel address, for
// a service the connector implements itself (an http.Server, a
// usbip.Server's Serve).
func (c *Connector) Listen(ctx context.Context, port int) (net.Listener, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.up(ctx)
	if err != nil {
		return nil, err
	}
	return t.Listen("tcp", fmt.Sprintf(":%d", port))
}

// Close stops the connector's services and tunnel. It is safe to call
// twice.
func (c *Connector) Close() error {
	c.mu.Lock()
	c.closed = true
	lns, t := c.lns, c.tun
	c.lns, c.tun = nil, nil
	c.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	var err error
	if t != nil {
		err = t.Close() // ends the spliced connections too
	}
	c.wg.Wait()
	return err
}

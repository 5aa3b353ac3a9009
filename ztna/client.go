package ztna

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"

	"github.com/gonaut/gonaut/tunnel"
)

// Client reaches resources through a gateway: an application embeds it to
// dial "wiki.corp:80" as if it were on the private network. It runs its own
// userspace WireGuard tunnel (no root, no TUN device) configured for one
// gateway; resource names resolve through the gateway's DNS, inside the
// tunnel.
//
// Set Config (or ConfigFile) before the first method call; the tunnel
// starts on the first Up, Dial or HTTPClient. All methods are safe for
// concurrent use, and Close is safe twice.
type Client struct {
	// Config is the tunnel configuration: what `gateway peer add` prints,
	// with the gateway as the only peer and its address as DNS.
	Config tunnel.Config
	// ConfigFile, when Config has no private key, is a wg-quick file to
	// read the configuration from.
	ConfigFile string
	// Logger receives the tunnel's diagnostics. Default: discard.
	Logger *slog.Logger

	mu sync.Mutex
	// guarded by mu
	tun    *tunnel.Tunnel
	closed bool
}

// Up starts the tunnel if it is not running yet.
func (c *Client) Up(ctx context.Context) (*tunnel.Tunnel, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.tun != nil {
		return c.tun, nil
	}
	cfg := c.Config
	if cfg.PrivateKey.IsZero() {
		if c.ConfigFile == "" {
			return nil, fmt.Errorf("%w: client: no Config or ConfigFile", ErrInvalidConfig)
		}
		f, err := os.Open(c.ConfigFile)
		if err != nil {
			return nil, fmt.Errorf("ztna: client: %w", err)
		}
		cfg, err = tunnel.ReadConfig(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("ztna: client: %w", err)
		}
	}
	t, err := tunnel.New(ctx, cfg, &tunnel.Options{Logger: c.Logger})
	if err != nil {
		return nil, fmt.Errorf("ztna: client: %w", err)
	}
	c.tun = t
	return t, nil
}

// Dial connects to address ("wiki.corp:80" or "10.78.0.1:80") through the
// gateway. network is tcp, tcp4 or tcp6, or udp for udp resources. A
// connection the gateway's policy refuses fails with "connection
// refused"; the datagrams of a refused UDP flow get no answer.
func (c *Client) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	t, err := c.Up(ctx)
	if err != nil {
		return nil, err
	}
	return t.Dial(ctx, network, address)
}

// HTTPClient returns an HTTP client whose requests go through the gateway.
// A request the gateway's policy refuses gets a 403 response from the
// gateway.
func (c *Client) HTTPClient() *http.Client {
	tr := &http.Transport{
		DialContext:       c.Dial,
		ForceAttemptHTTP2: false,
		MaxIdleConns:      16,
	}
	return &http.Client{Transport: tr}
}

// Close stops the tunnel. It is safe to call twice.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.tun == nil {
		return nil
	}
	err := c.tun.Close()
	c.tun = nil
	return err
}

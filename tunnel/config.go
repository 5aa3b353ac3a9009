package tunnel

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// DefaultMTU is the tunnel MTU used when Config.MTU is zero: the wg-quick
// default, which fits a WireGuard packet in a 1500-byte IPv6 path.
const DefaultMTU = 1420

// Config is the configuration of a Tunnel: the [Interface] and [Peer]
// sections of a wg-quick file. The zero value is not usable; PrivateKey and
// at least one address are required.
type Config struct {
	// PrivateKey is the tunnel's Curve25519 private key.
	PrivateKey Key

	// ListenPort is the UDP port the tunnel listens on; 0 picks a free one.
	ListenPort int

	// Addresses are the tunnel's own addresses inside the tunnel, with the
	// prefix length as written in wg-quick's Address (the prefix length
	// does not change routing: packets are routed to peers by AllowedIPs).
	Addresses []netip.Prefix

	// MTU of the tunnel interface; 0 means DefaultMTU.
	MTU int

	// DNS servers reached through the tunnel, used to resolve host names
	// in Dial and by HTTPClient. DNSSearch holds the non-address entries of
	// wg-quick's DNS line (search domains), kept for export.
	DNS       []netip.Addr
	DNSSearch []string

	// Peers are the remote ends.
	Peers []PeerConfig
}

// PeerConfig is one [Peer] section.
type PeerConfig struct {
	// PublicKey identifies the peer. Required.
	PublicKey Key

	// PresharedKey adds a symmetric key to the handshake; zero means none.
	PresharedKey Key

	// Endpoint is the peer's UDP address as "host:port"; empty when the
	// peer is only ever reached after it contacted us (roaming). A host
	// name is resolved when the peer is configured.
	Endpoint string

	// AllowedIPs are the inner addresses the peer may use as a source and
	// that are routed to it.
	AllowedIPs []netip.Prefix

	// PersistentKeepalive sends a keepalive this often when non-zero
	// (whole seconds, at most 65535).
	PersistentKeepalive time.Duration
}

// mtu returns the effective MTU.
func (c *Config) mtu() int {
	if c.MTU == 0 {
		return DefaultMTU
	}
	return c.MTU
}

// Validate reports the first problem that would stop the configuration from
// being applied. The error wraps ErrInvalidConfig.
func (c *Config) Validate() error {
	if c.PrivateKey.IsZero() {
		return fmt.Errorf("%w: missing private key", ErrInvalidConfig)
	}
	if c.ListenPort < 0 || c.ListenPort > 65535 {
		return fmt.Errorf("%w: listen port %d out of range", ErrInvalidConfig, c.ListenPort)
	}
	if len(c.Addresses) == 0 {
		return fmt.Errorf("%w: no tunnel address", ErrInvalidConfig)
	}
	hasV6 := false
	for _, p := range c.Addresses {
		if !p.IsValid() || p.Addr().Zone() != "" {
			return fmt.Errorf("%w: bad address %v", ErrInvalidConfig, p)
		}
		if p.Addr().Is6() && !p.Addr().Is4In6() {
			hasV6 = true
		}
		if p.Addr().Is4In6() {
			return fmt.Errorf("%w: address %v: use the plain IPv4 form", ErrInvalidConfig, p)
		}
	}
	minMTU := 576
	if hasV6 {
		minMTU = 1280
	}
	if m := c.mtu(); m < minMTU || m > 65535 {
		return fmt.Errorf("%w: MTU %d out of range [%d, 65535]", ErrInvalidConfig, m, minMTU)
	}
	for _, a := range c.DNS {
		if !a.IsValid() {
			return fmt.Errorf("%w: bad DNS server", ErrInvalidConfig)
		}
	}
	seen := make(map[Key]bool, len(c.Peers))
	for i := range c.Peers {
		p := &c.Peers[i]
		if err := p.validate(); err != nil {
			return err
		}
		if seen[p.PublicKey] {
			return fmt.Errorf("%w: duplicate peer %v", ErrInvalidConfig, p.PublicKey)
		}
		seen[p.PublicKey] = true
	}
	return checkOverlaps(c.Peers)
}

func (p *PeerConfig) validate() error {
	if p.PublicKey.IsZero() {
		return fmt.Errorf("%w: peer without public key", ErrInvalidConfig)
	}
	for _, a := range p.AllowedIPs {
		if !a.IsValid() {
			return fmt.Errorf("%w: peer %v: bad allowed IP", ErrInvalidConfig, p.PublicKey)
		}
	}
	if p.PersistentKeepalive < 0 || p.PersistentKeepalive > 65535*time.Second || p.PersistentKeepalive%time.Second != 0 {
		return fmt.Errorf("%w: peer %v: persistent keepalive must be whole seconds in [0, 65535]", ErrInvalidConfig, p.PublicKey)
	}
	if p.Endpoint != "" {
		if _, _, err := splitHostPort(p.Endpoint); err != nil {
			return fmt.Errorf("%w: peer %v: endpoint %q: %v", ErrInvalidConfig, p.PublicKey, p.Endpoint, err)
		}
	}
	return nil
}

// Clone returns a deep copy of c.
func (c Config) Clone() Config {
	c.Addresses = append([]netip.Prefix(nil), c.Addresses...)
	c.DNS = append([]netip.Addr(nil), c.DNS...)
	c.DNSSearch = append([]string(nil), c.DNSSearch...)
	peers := make([]PeerConfig, len(c.Peers))
	for i, p := range c.Peers {
		peers[i] = p.clone()
	}
	c.Peers = peers
	return c
}

func (p PeerConfig) clone() PeerConfig {
	p.AllowedIPs = append([]netip.Prefix(nil), p.AllowedIPs...)
	return p
}

// splitHostPort splits an endpoint "host:port" or "[v6]:port" and checks
// the port.
func splitHostPort(s string) (host string, port uint16, err error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return "", 0, fmt.Errorf("missing port")
	}
	host, ps := s[:i], s[i+1:]
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") {
			return "", 0, fmt.Errorf("unterminated [")
		}
		host = host[1 : len(host)-1]
	} else if strings.Contains(host, ":") {
		return "", 0, fmt.Errorf("IPv6 address must be in brackets")
	}
	if host == "" {
		return "", 0, fmt.Errorf("empty host")
	}
	var n int
	for _, r := range ps {
		if r < '0' || r > '9' || n > 65535 {
			return "", 0, fmt.Errorf("bad port %q", ps)
		}
		n = n*10 + int(r-'0')
	}
	if ps == "" || n < 1 || n > 65535 {
		return "", 0, fmt.Errorf("bad port %q", ps)
	}
	return host, uint16(n), nil
}

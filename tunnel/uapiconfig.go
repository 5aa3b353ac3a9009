package tunnel

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// deviceConfig renders cfg in wireguard-go's UAPI "set" syntax. With full
// set it includes the interface and replaces every peer.
func deviceConfig(ctx context.Context, cfg *Config, full bool) (string, error) {
	var b strings.Builder
	if full {
		fmt.Fprintf(&b, "private_key=%s\n", cfg.PrivateKey.hex())
		fmt.Fprintf(&b, "listen_port=%d\n", cfg.ListenPort)
		b.WriteString("replace_peers=true\n")
	}
	for i := range cfg.Peers {
		if _, err := peerConfig(ctx, &b, &cfg.Peers[i]); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

// peerConfig renders p in the UAPI "set" syntax and returns its endpoint,
// resolved (invalid if p has none).
func peerConfig(ctx context.Context, b *strings.Builder, p *PeerConfig) (netip.AddrPort, error) {
	fmt.Fprintf(b, "public_key=%s\n", p.PublicKey.hex())
	fmt.Fprintf(b, "preshared_key=%s\n", p.PresharedKey.hex())
	var ap netip.AddrPort
	if p.Endpoint != "" {
		var err error
		if ap, err = resolveEndpoint(ctx, p.Endpoint); err != nil {
			return ap, err
		}
		fmt.Fprintf(b, "endpoint=%s\n", ap)
	}
	fmt.Fprintf(b, "persistent_keepalive_interval=%d\n", int(p.PersistentKeepalive/time.Second))
	b.WriteString("replace_allowed_ips=true\n")
	for _, a := range p.AllowedIPs {
		fmt.Fprintf(b, "allowed_ip=%s\n", a.Masked())
	}
	return ap, nil
}

// resolveEndpoint turns "host:port" into an address, resolving a host name
// with the system resolver (outside the tunnel).
func resolveEndpoint(ctx context.Context, ep string) (netip.AddrPort, error) {
	host, port, err := splitHostPort(ep)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: endpoint %q: %v", ErrInvalidConfig, ep, err)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(a.Unmap(), port), nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return netip.AddrPort{}, fmt.Errorf("tunnel: resolve endpoint %q: %w", ep, err)
	}
	return netip.AddrPortFrom(addrs[0].Unmap(), port), nil
}

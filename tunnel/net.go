package tunnel

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
)

// Dial connects to address through the tunnel. network is "tcp", "tcp4",
// "tcp6", "udp", "udp4" or "udp6"; address is "host:port", where a host
// name is resolved through the tunnel's DNS servers. The connection is a
// plain net.Conn (a *gonet.TCPConn or *gonet.UDPConn).
func (t *Tunnel) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	tcpNet, fam, err := parseNetwork(network)
	if err != nil {
		return nil, err
	}
	ap, err := t.resolve(ctx, fam, address)
	if err != nil {
		return nil, err
	}
	if err := t.checkOpen(); err != nil {
		return nil, err
	}
	if tcpNet {
		c, err := gonet.DialContextTCP(ctx, t.stack, fullAddr(ap), protoOf(ap.Addr()))
		if err != nil {
			return nil, fmt.Errorf("tunnel: dial %s %s: %w", network, address, err)
		}
		return c, nil
	}
	raddr := fullAddr(ap)
	c, err := gonet.DialUDP(t.stack, nil, &raddr, protoOf(ap.Addr()))
	if err != nil {
		return nil, fmt.Errorf("tunnel: dial %s %s: %w", network, address, err)
	}
	return c, nil
}

// Listen listens for TCP connections inside the tunnel. network is "tcp",
// "tcp4" or "tcp6"; address is "ip:port" or ":port" (all of the tunnel's
// addresses). The listener is a plain net.Listener that http.Serve accepts.
func (t *Tunnel) Listen(network, address string) (net.Listener, error) {
	tcpNet, fam, err := parseNetwork(network)
	if err != nil {
		return nil, err
	}
	if !tcpNet {
		return nil, fmt.Errorf("%w: Listen %q (use ListenPacket for UDP)", ErrUnsupportedNetwork, network)
	}
	ap, err := t.localAddr(fam, address)
	if err != nil {
		return nil, err
	}
	if err := t.checkOpen(); err != nil {
		return nil, err
	}
	l, err := gonet.ListenTCP(t.stack, fullAddr(ap), protoOf(ap.Addr()))
	if err != nil {
		return nil, fmt.Errorf("tunnel: listen %s %s: %w", network, address, err)
	}
	return l, nil
}

// ListenPacket opens a UDP socket inside the tunnel. network is "udp",
// "udp4" or "udp6"; address is "ip:port" or ":port".
func (t *Tunnel) ListenPacket(network, address string) (net.PacketConn, error) {
	tcpNet, fam, err := parseNetwork(network)
	if err != nil {
		return nil, err
	}
	if tcpNet {
		return nil, fmt.Errorf("%w: ListenPacket %q (use Listen for TCP)", ErrUnsupportedNetwork, network)
	}
	ap, err := t.localAddr(fam, address)
	if err != nil {
		return nil, err
	}
	if err := t.checkOpen(); err != nil {
		return nil, err
	}
	laddr := fullAddr(ap)
	c, err := gonet.DialUDP(t.stack, &laddr, nil, protoOf(ap.Addr()))
	if err != nil {
		return nil, fmt.Errorf("tunnel: listen %s %s: %w", network, address, err)
	}
	return c, nil
}

func (t *Tunnel) checkOpen() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	return nil
}

// parseNetwork returns whether network is TCP, and its address family
// (0 any, 4 or 6).
func parseNetwork(network string) (tcpNet bool, fam int, err error) {
	switch network {
	case "tcp":
		return true, 0, nil
	case "tcp4":
		return true, 4, nil
	case "tcp6":
		return true, 6, nil
	case "udp":
		return false, 0, nil
	case "udp4":
		return false, 4, nil
	case "udp6":
		return false, 6, nil
	}
	return false, 0, fmt.Errorf("%w: %q", ErrUnsupportedNetwork, network)
}

func famMatches(fam int, a netip.Addr) bool {
	return fam == 0 || (fam == 4) == a.Is4()
}

// localAddr parses a listen address. An empty or unspecified host means
// every tunnel address of the family: the unspecified address of the
// tunnel's first family (gVisor's IPv6 wildcard also takes IPv4).
func (t *Tunnel) localAddr(fam int, address string) (netip.AddrPort, error) {
	host, ps, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("tunnel: listen address %q: %w", address, err)
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("tunnel: listen address %q: bad port", address)
	}
	if host != "" {
		a, err := netip.ParseAddr(host)
		if err != nil || !famMatches(fam, a.Unmap()) {
			return netip.AddrPort{}, fmt.Errorf("tunnel: listen address %q: not an IP address of the network's family", address)
		}
		if !a.IsUnspecified() {
			return netip.AddrPortFrom(a.Unmap(), uint16(port)), nil
		}
		fam = map[bool]int{true: 4, false: 6}[a.Is4()]
	}
	var has4, has6 bool
	for _, a := range t.addrs {
		has4 = has4 || a.Is4()
		has6 = has6 || a.Is6()
	}
	switch {
	case fam == 4 || (fam == 0 && has4 && !has6):
		return netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(port)), nil
	default:
		return netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(port)), nil
	}
}

// resolve turns "host:port" into an address, resolving names through the
// tunnel's DNS servers.
func (t *Tunnel) resolve(ctx context.Context, fam int, address string) (netip.AddrPort, error) {
	host, ps, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("tunnel: dial address %q: %w", address, err)
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		p, lerr := net.LookupPort("tcp", ps)
		if lerr != nil {
			return netip.AddrPort{}, fmt.Errorf("tunnel: dial address %q: bad port", address)
		}
		port = uint64(p)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		if !famMatches(fam, a) {
			return netip.AddrPort{}, fmt.Errorf("tunnel: dial address %q: wrong address family", address)
		}
		return netip.AddrPortFrom(a, uint16(port)), nil
	}
	if len(t.dns) == 0 {
		return netip.AddrPort{}, fmt.Errorf("tunnel: resolve %q: no DNS servers configured", host)
	}
	addrs, err := t.resolver().LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("tunnel: resolve %q: %w", host, err)
	}
	for _, a := range addrs {
		if a = a.Unmap(); famMatches(fam, a) {
			return netip.AddrPortFrom(a, uint16(port)), nil
		}
	}
	return netip.AddrPort{}, fmt.Errorf("tunnel: resolve %q: no address of the wanted family", host)
}

// resolver is Go's DNS client sending its queries through the tunnel to
// the first configured DNS server.
func (t *Tunnel) resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			ap := netip.AddrPortFrom(t.dns[0], 53)
			if network == "tcp" || network == "tcp4" || network == "tcp6" {
				return gonet.DialContextTCP(ctx, t.stack, fullAddr(ap), protoOf(ap.Addr()))
			}
			raddr := fullAddr(ap)
			return gonet.DialUDP(t.stack, nil, &raddr, protoOf(ap.Addr()))
		},
	}
}

package ztna

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/gonaut/gonaut/tunnel"
)

// PeerConfig returns the wg-quick configuration of a device of cfg: its
// private key and address, the gateway's address as DNS, and the gateway as
// the one peer, routing the gateway's address and the resources' addresses.
// gatewayKey is the gateway's public key; endpoint overrides
// Config.Endpoint when not empty.
func PeerConfig(cfg *Config, gatewayKey tunnel.Key, devKey tunnel.Key, devAddr netip.Addr, endpoint string) (tunnel.Config, error) {
	gp, err := cfg.GatewayPrefix()
	if err != nil {
		return tunnel.Config{}, err
	}
	if endpoint == "" {
		endpoint = cfg.Endpoint
	}
	if endpoint == "" {
		endpoint = net.JoinHostPort("127.0.0.1", strconv.Itoa(max(cfg.ListenPort, 51820)))
	}
	allowed := []netip.Prefix{netip.PrefixFrom(gp.Addr(), gp.Addr().BitLen()), cfg.ResourceRange()}
	for _, r := range cfg.Resources {
		if a, err := netip.ParseAddr(r.Address); err == nil && !cfg.ResourceRange().Contains(a) {
			allowed = append(allowed, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	tc := tunnel.Config{
		PrivateKey: devKey,
		Addresses:  []netip.Prefix{netip.PrefixFrom(devAddr, devAddr.BitLen())},
		DNS:        []netip.Addr{gp.Addr()},
		Peers: []tunnel.PeerConfig{{
			PublicKey:           gatewayKey,
			Endpoint:            endpoint,
			AllowedIPs:          allowed,
			PersistentKeepalive: 25 * time.Second,
		}},
	}
	if cfg.Domain != "" {
		tc.DNSSearch = []string{cfg.Domain}
	}
	return tc, nil
}

// NextDeviceAddress returns the first address of the gateway's prefix that
// is neither the gateway's nor any device's or connector's.
func NextDeviceAddress(cfg *Config) (netip.Addr, error) {
	gp, err := cfg.GatewayPrefix()
	if err != nil {
		return netip.Addr{}, err
	}
	used := map[netip.Addr]bool{gp.Addr(): true}
	for _, d := range cfg.Devices {
		if a, err := netip.ParseAddr(d.Address); err == nil {
			used[a] = true
		}
	}
	for _, c := range cfg.Connectors {
		if a, err := netip.ParseAddr(c.Address); err == nil {
			used[a] = true
		}
	}
	rr := cfg.ResourceRange()
	for a := gp.Masked().Addr().Next(); gp.Contains(a); a = a.Next() {
		if !used[a] && !rr.Contains(a) {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%w: address %s has no free device address", ErrInvalidConfig, gp)
}

package ztna

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"

	"github.com/gonaut/gonaut/tunnel"
)

// The gateway's side of its connectors: a connector is one more tunnel
// peer, and a resource it hosts is dialled through the tunnel at the
// connector's address. The remote end is Connector (connector.go); the
// presence polls of usb and serial resources are in presence.go.

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

// viaConnector points r, a resource hosted by a connector, at the
// connector: its upstream is the connector's tunnel address and port,
// policy sees the connector's id and site as labels, and it is dialled
// through the tunnel.
func (g *Gateway) viaConnector(st *state, r *resource) (func(ctx context.Context, network, addr string) (net.Conn, error), error) {
	cn, ok := st.connectors[r.cfg.Connector]
	if !ok {
		return nil, &ConfigError{Msg: fmt.Sprintf("resource %q: no connector %q", r.cfg.Name, r.cfg.Connector)}
	}
	r.cfg.Labels = withLabels(r.cfg.Labels, "connector", cn.ID, "site", cn.Site)
	r.cfg.Upstreams = []string{netip.AddrPortFrom(netip.MustParseAddr(cn.Address), connectorPort(r.cfg)).String()}
	return g.dialTunnel, nil
}

// dialTunnel dials a connector's service through the tunnel.
func (g *Gateway) dialTunnel(ctx context.Context, network, addr string) (net.Conn, error) {
	return g.tun.Dial(ctx, network, addr)
}

func connectorPort(rc ResourceConfig) uint16 {
	if rc.ConnectorPort != 0 {
		return uint16(rc.ConnectorPort)
	}
	if rc.Kind == KindUSB {
		return ConnectorUSBPort // where Connector serves its devices
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

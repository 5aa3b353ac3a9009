package tunnel

import (
	"fmt"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

const nicID tcpip.NICID = 1

// newStack builds the gVisor netstack on top of t.link. With intercept set
// the NIC is promiscuous (it accepts packets for any address) and spoofing
// (it may answer from any address), and new flows go to the forwarders.
func (t *Tunnel) newStack(bufSize int, intercept bool) (*stack.Stack, error) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
		// With a promiscuous NIC every address counts as local, and
		// HandleLocal would then drop every packet as a martian.
		HandleLocal: !intercept,
	})
	fail := func(what string, err tcpip.Error) (*stack.Stack, error) {
		s.Close()
		s.Wait()
		return nil, fmt.Errorf("tunnel: netstack %s: %v", what, err)
	}
	sack := tcpip.TCPSACKEnabled(true)
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack); err != nil {
		return fail("SACK", err)
	}
	rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: tcp.MinBufferSize, Default: min(1<<20, bufSize), Max: bufSize}
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &rcv); err != nil {
		return fail("receive buffer", err)
	}
	snd := tcpip.TCPSendBufferSizeRangeOption{Min: tcp.MinBufferSize, Default: min(1<<20, bufSize), Max: bufSize}
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &snd); err != nil {
		return fail("send buffer", err)
	}
	moderate := tcpip.TCPModerateReceiveBufferOption(true)
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &moderate); err != nil {
		return fail("receive buffer moderation", err)
	}
	if err := s.CreateNICWithOptions(nicID, nicEndpoint{t.link}, stack.NICOptions{Name: "gonaut"}); err != nil {
		return fail("create NIC", err)
	}
	var hasV4, hasV6 bool
	for _, a := range t.addrs {
		pa := tcpip.ProtocolAddress{
			Protocol:          protoOf(a),
			AddressWithPrefix: tcpip.AddrFromSlice(a.AsSlice()).WithPrefix(),
		}
		if err := s.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); err != nil {
			return fail(fmt.Sprintf("add address %v", a), err)
		}
		hasV4 = hasV4 || a.Is4()
		hasV6 = hasV6 || a.Is6()
	}
	// Routing to peers is WireGuard's job (AllowedIPs); the stack sends
	// everything to the one NIC.
	if hasV4 || intercept {
		s.AddRoute(tcpip.Route{Destination: header.IPv4EmptySubnet, NIC: nicID})
	}
	if hasV6 || intercept {
		s.AddRoute(tcpip.Route{Destination: header.IPv6EmptySubnet, NIC: nicID})
	}
	if intercept {
		if err := s.SetPromiscuousMode(nicID, true); err != nil {
			return fail("promiscuous mode", err)
		}
		if err := s.SetSpoofing(nicID, true); err != nil {
			return fail("spoofing", err)
		}
		tf := tcp.NewForwarder(s, 0, maxPendingFlows, t.forwardTCP)
		s.SetTransportProtocolHandler(tcp.ProtocolNumber, t.interceptTCP(tf))
		uf := udp.NewForwarder(s, t.forwardUDP)
		s.SetTransportProtocolHandler(udp.ProtocolNumber, uf.HandlePacket)
	}
	return s, nil
}

func protoOf(a netip.Addr) tcpip.NetworkProtocolNumber {
	if a.Is4() {
		return ipv4.ProtocolNumber
	}
	return ipv6.ProtocolNumber
}

func fullAddr(ap netip.AddrPort) tcpip.FullAddress {
	fa := tcpip.FullAddress{NIC: nicID, Port: ap.Port()}
	if ap.Addr().IsValid() && !ap.Addr().IsUnspecified() {
		fa.Addr = tcpip.AddrFromSlice(ap.Addr().Unmap().AsSlice())
	}
	return fa
}

func addrFromTCPIP(a tcpip.Address, port uint16) netip.AddrPort {
	ip, _ := netip.AddrFromSlice(a.AsSlice())
	return netip.AddrPortFrom(ip.Unmap(), port)
}

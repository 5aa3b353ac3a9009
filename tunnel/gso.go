package tunnel

import (
	"encoding/binary"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Segmentation offload. The link tells the stack it does "host GSO", so
// gVisor's TCP hands it segments of up to 64 KiB with a pseudo-header-only
// checksum, exactly as Linux hands a NIC a TSO packet. Cutting one of those
// into MSS-sized packets here costs a header copy and a checksum per
// segment, while building each segment in gVisor costs a trip through its
// TCP sender, route and NIC code: that difference is most of the per-packet
// overhead of the stock path.

// segmentCount returns how many packets pkt becomes on the wire.
func segmentCount(pkt *stack.PacketBuffer) int {
	g := pkt.GSOOptions
	if g.Type != stack.GSOTCPv4 && g.Type != stack.GSOTCPv6 || g.MSS == 0 {
		return 1
	}
	payload := pkt.Size() - len(pkt.NetworkHeader().Slice()) - len(pkt.TransportHeader().Slice())
	if payload <= int(g.MSS) {
		return 1
	}
	return (payload + int(g.MSS) - 1) / int(g.MSS)
}

// segmentTCP cuts the flattened GSO packet pkt (IP header, TCP header,
// payload) into segments of at most gso.MSS payload bytes, each written at
// offset into one of bufs with a complete IP header and TCP checksum. It
// returns the number of buffers filled; a malformed packet yields 0 (the
// packet is dropped, which TCP recovers from).
func segmentTCP(pkt []byte, gso stack.GSO, bufs [][]byte, sizes []int, offset int) int {
	if len(pkt) < 1 {
		return 0
	}
	var (
		ipHdrLen int
		src, dst tcpip.Address
		proto    tcpip.NetworkProtocolNumber
	)
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < header.IPv4MinimumSize {
			return 0
		}
		ip := header.IPv4(pkt)
		ipHdrLen = int(ip.HeaderLength())
		if ipHdrLen < header.IPv4MinimumSize || ip.Protocol() != uint8(header.TCPProtocolNumber) {
			return 0
		}
		src, dst, proto = ip.SourceAddress(), ip.DestinationAddress(), header.IPv4ProtocolNumber
	case 6:
		if len(pkt) < header.IPv6MinimumSize {
			return 0
		}
		ip := header.IPv6(pkt)
		if ip.NextHeader() != uint8(header.TCPProtocolNumber) {
			return 0
		}
		ipHdrLen = header.IPv6MinimumSize
		src, dst, proto = ip.SourceAddress(), ip.DestinationAddress(), header.IPv6ProtocolNumber
	default:
		return 0
	}
	if len(pkt) < ipHdrLen+header.TCPMinimumSize {
		return 0
	}
	tcpHdrLen := int(header.TCP(pkt[ipHdrLen:]).DataOffset())
	if tcpHdrLen < header.TCPMinimumSize || len(pkt) < ipHdrLen+tcpHdrLen {
		return 0
	}
	hdrLen := ipHdrLen + tcpHdrLen
	payload := pkt[hdrLen:]
	mss := int(gso.MSS)
	if mss <= 0 {
		mss = len(payload)
	}
	tcpIn := header.TCP(pkt[ipHdrLen:])
	seq := tcpIn.SequenceNumber()
	flags := tcpIn.Flags()
	var id uint16
	if proto == header.IPv4ProtocolNumber {
		id = header.IPv4(pkt).ID()
	}

	n := 0
	for off := 0; n == 0 || off < len(payload); n++ {
		if n >= len(bufs) {
			break
		}
		end := min(off+mss, len(payload))
		out := bufs[n][offset:]
		segLen := hdrLen + end - off
		if len(out) < segLen {
			return n
		}
		copy(out, pkt[:hdrLen])
		copy(out[hdrLen:], payload[off:end])
		out = out[:segLen]

		if proto == header.IPv4ProtocolNumber {
			ip := header.IPv4(out)
			ip.SetTotalLength(uint16(segLen))
			ip.SetID(id + uint16(n))
			ip.SetChecksum(0)
			ip.SetChecksum(^ip.CalculateChecksum())
		} else {
			binary.BigEndian.PutUint16(out[4:6], uint16(segLen-header.IPv6MinimumSize))
		}
		tcp := header.TCP(out[ipHdrLen:])
		tcp.SetSequenceNumber(seq + uint32(off))
		f := flags
		if end < len(payload) {
			f &^= header.TCPFlagFin | header.TCPFlagPsh
		}
		if off > 0 {
			f &^= header.TCPFlagCwr
		}
		tcp.SetFlags(uint8(f))
		tcp.SetChecksum(0)
		xsum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dst, uint16(segLen-ipHdrLen))
		xsum = checksum.Checksum(out[ipHdrLen:], xsum)
		tcp.SetChecksum(^xsum)

		sizes[n] = segLen
		off = end
	}
	return n
}

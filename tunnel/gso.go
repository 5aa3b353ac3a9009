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

// segmentCount returns how many packets pkt becomes on the wire, as
// segmentTCP cuts it for a link of the given MTU.
func segmentCount(pkt *stack.PacketBuffer, mtu int) int {
	g := pkt.GSOOptions
	if g.Type != stack.GSOTCPv4 && g.Type != stack.GSOTCPv6 || g.MSS == 0 {
		return 1
	}
	hdrLen := len(pkt.NetworkHeader().Slice()) + len(pkt.TransportHeader().Slice())
	payload := pkt.Size() - hdrLen
	if payload <= int(g.MSS) {
		return 1
	}
	mss := wholeBatchPayload(int(g.MSS), hdrLen, mtu)
	return (payload + mss - 1) / mss
}

// maxHeaders bounds the IP plus TCP header bytes of a GSO packet: a
// 60-byte IPv4 header and a 60-byte TCP header.
const maxHeaders = 120

// segmentTCP cuts the GSO packet held in the views pkt (IP header, TCP
// header, payload; total bytes in all) into segments of at most gso.MSS
// payload bytes, each written at offset into one of bufs with a complete
// IP header and TCP checksum. It copies each payload byte once, straight
// from the packet's views. It returns the number of buffers filled; a
// malformed packet yields 0 (it is dropped, which TCP recovers from).
func segmentTCP(pkt [][]byte, total int, gso stack.GSO, mtu int, bufs [][]byte, sizes []int, offset int) int {
	var hdrBuf [maxHeaders]byte
	n := 0
	for _, v := range pkt {
		n += copy(hdrBuf[n:], v)
		if n == len(hdrBuf) {
			break
		}
	}
	hdr := hdrBuf[:n]
	if len(hdr) < 1 {
		return 0
	}
	var (
		ipHdrLen int
		src, dst tcpip.Address
		proto    tcpip.NetworkProtocolNumber
	)
	switch hdr[0] >> 4 {
	case 4:
		if len(hdr) < header.IPv4MinimumSize {
			return 0
		}
		ip := header.IPv4(hdr)
		ipHdrLen = int(ip.HeaderLength())
		if ipHdrLen < header.IPv4MinimumSize || ip.Protocol() != uint8(header.TCPProtocolNumber) {
			return 0
		}
		src, dst, proto = ip.SourceAddress(), ip.DestinationAddress(), header.IPv4ProtocolNumber
	case 6:
		if len(hdr) < header.IPv6MinimumSize {
			return 0
		}
		ip := header.IPv6(hdr)
		if ip.NextHeader() != uint8(header.TCPProtocolNumber) {
			return 0
		}
		ipHdrLen = header.IPv6MinimumSize
		src, dst, proto = ip.SourceAddress(), ip.DestinationAddress(), header.IPv6ProtocolNumber
	default:
		return 0
	}
	if len(hdr) < ipHdrLen+header.TCPMinimumSize {
		return 0
	}
	tcpHdrLen := int(header.TCP(hdr[ipHdrLen:]).DataOffset())
	if tcpHdrLen < header.TCPMinimumSize || len(hdr) < ipHdrLen+tcpHdrLen {
		return 0
	}
	hdrLen := ipHdrLen + tcpHdrLen
	payloadLen := total - hdrLen
	if payloadLen < 0 {
		return 0
	}
	mss := int(gso.MSS)
	if mss <= 0 {
		mss = max(payloadLen, 1)
	} else if mss < payloadLen {
		mss = wholeBatchPayload(mss, hdrLen, mtu)
	}
	tcpIn := header.TCP(hdr[ipHdrLen:])
	seq := tcpIn.SequenceNumber()
	flags := tcpIn.Flags()
	var id uint16
	if proto == header.IPv4ProtocolNumber {
		id = header.IPv4(hdr).ID()
	}
	r := viewReader{views: pkt}
	r.skip(hdrLen)

	n = 0
	for off := 0; n == 0 || off < payloadLen; n++ {
		if n >= len(bufs) {
			break
		}
		end := min(off+mss, payloadLen)
		out := bufs[n][offset:]
		segLen := hdrLen + end - off
		if len(out) < segLen {
			return n
		}
		copy(out, hdr[:hdrLen])
		r.read(out[hdrLen:segLen])
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
		if end < payloadLen {
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

// WireGuard's UDP transport (conn.StdNetBind) hands the kernel runs of
// equal-sized datagrams as one UDP GSO send of up to 64 datagrams and 64 KiB
// of payload, and the receiving socket gets them as one UDP GRO read — but
// only if the run, with its UDP, IP and link headers, fits in the 64 KiB
// GSO limit of the device. Over loopback a run of 46 datagrams of 1,424
// bytes (65,504 bytes of payload) does not: the kernel cuts it into single
// datagrams, and the receiver reads two datagrams per system call instead
// of a whole run. 1,424-byte datagrams are what gVisor's MSS (MTU 1420 less
// 40 bytes of headers and 40 of room for TCP options) produces with the
// default MTU, so the segments are shortened by one padding unit when
// their datagrams would form such runs.
const (
	wgOverhead  = 32    // WireGuard transport header and AEAD tag
	wgPadding   = 16    // WireGuard pads packets to a multiple of this
	maxGSORun   = 64    // datagrams per UDP GSO send in conn.StdNetBind
	maxUDPRunV4 = 65507 // UDP payload limits of one send in conn.StdNetBind
	maxUDPRunV6 = 65527
	maxGSOWhole = 65470 // UDP payload of one GSO send that loopback passes whole (IPv6; IPv4 allows a little more)
)

// wholeBatchPayload returns the segment payload size to use instead of
// mss: mss, or less if a full run of datagrams of that size would exceed
// maxGSOWhole.
func wholeBatchPayload(mss, hdrLen, mtu int) int {
	for p := mss; p > mss-4*wgPadding && p > wgPadding; {
		inner := hdrLen + p
		padded := min((inner+wgPadding-1)&^(wgPadding-1), max(mtu, inner))
		dgram := padded + wgOverhead
		if runBytes(dgram, maxUDPRunV4) <= maxGSOWhole && runBytes(dgram, maxUDPRunV6) <= maxGSOWhole {
			return p
		}
		// The largest payload whose packet pads to one unit less.
		p = (padded - wgPadding) - hdrLen
	}
	return mss
}

// runBytes is the payload of the longest run of size-byte datagrams that
// conn.StdNetBind sends as one, given its payload limit.
func runBytes(size, limit int) int {
	return min(maxGSORun, limit/size) * size
}

// viewReader reads a packet's views in order.
type viewReader struct {
	views [][]byte
	i     int // current view
	off   int // offset in it
}

func (r *viewReader) skip(n int) {
	for n > 0 && r.i < len(r.views) {
		k := min(n, len(r.views[r.i])-r.off)
		n -= k
		r.off += k
		if r.off == len(r.views[r.i]) {
			r.i, r.off = r.i+1, 0
		}
	}
}

func (r *viewReader) read(dst []byte) {
	for len(dst) > 0 && r.i < len(r.views) {
		k := copy(dst, r.views[r.i][r.off:])
		dst = dst[k:]
		r.off += k
		if r.off == len(r.views[r.i]) {
			r.i, r.off = r.i+1, 0
		}
	}
	clear(dst) // only if the views were shorter than promised
}

package tunnel

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// gsoPacket builds an IP+TCP super-packet with the given payload, split
// into views at random points as a PacketBuffer would hold it.
func gsoPacket(v6 bool, payload []byte, flags header.TCPFlags) (views [][]byte, src, dst tcpip.Address) {
	tcp := make([]byte, header.TCPMinimumSize+12) // with a timestamp option
	header.TCP(tcp).Encode(&header.TCPFields{SrcPort: 1000, DstPort: 80, SeqNum: 0xfffffff0, AckNum: 7,
		DataOffset: uint8(len(tcp)), Flags: flags, WindowSize: 1000})
	var ip []byte
	if v6 {
		ip = make([]byte, header.IPv6MinimumSize)
		src, dst = tcpip.AddrFrom16([16]byte{0xfd, 15: 1}), tcpip.AddrFrom16([16]byte{0xfd, 15: 2})
		header.IPv6(ip).Encode(&header.IPv6Fields{PayloadLength: uint16(len(tcp) + len(payload)),
			TransportProtocol: header.TCPProtocolNumber, HopLimit: 64, SrcAddr: src, DstAddr: dst})
	} else {
		ip = make([]byte, header.IPv4MinimumSize)
		src, dst = tcpip.AddrFrom4([4]byte{10, 0, 0, 1}), tcpip.AddrFrom4([4]byte{10, 0, 0, 2})
		header.IPv4(ip).Encode(&header.IPv4Fields{TotalLength: uint16(len(ip) + len(tcp) + len(payload)),
			ID: 100, TTL: 64, Protocol: uint8(header.TCPProtocolNumber), SrcAddr: src, DstAddr: dst})
	}
	whole := append(append(append([]byte(nil), ip...), tcp...), payload...)
	for len(whole) > 0 {
		k := min(len(whole), 1+rand.IntN(3000))
		views = append(views, whole[:k])
		whole = whole[k:]
	}
	return views, src, dst
}

func TestSegmentTCP(t *testing.T) {
	const mss = 1348
	for _, v6 := range []bool{false, true} {
		for _, size := range []int{0, 1, mss, mss + 1, 10 * mss, 65000 - 100} {
			payload := make([]byte, size)
			for i := range payload {
				payload[i] = byte(rand.IntN(256))
			}
			flags := header.TCPFlagAck | header.TCPFlagPsh | header.TCPFlagFin | header.TCPFlagCwr
			views, src, dst := gsoPacket(v6, payload, flags)
			total := 0
			for _, v := range views {
				total += len(v)
			}
			bufs := make([][]byte, batchSize)
			for i := range bufs {
				bufs[i] = make([]byte, 16+2000)
			}
			sizes := make([]int, batchSize)
			hdrLen := header.IPv4MinimumSize + header.TCPMinimumSize + 12
			if v6 {
				hdrLen += header.IPv6MinimumSize - header.IPv4MinimumSize
			}
			n := segmentTCP(views, total, stack.GSO{Type: stack.GSOTCPv4, MSS: mss}, DefaultMTU, bufs, sizes, 16)
			segLen := mss
			if size > mss {
				segLen = wholeBatchPayload(mss, hdrLen, DefaultMTU)
			}
			want := max(1, (size+segLen-1)/segLen)
			if n != want {
				t.Fatalf("v6=%v size=%d: %d segments, want %d", v6, size, n, want)
			}
			var got []byte
			for i := range n {
				seg := bufs[i][16 : 16+sizes[i]]
				var tcp header.TCP
				if v6 {
					ip := header.IPv6(seg)
					if int(ip.PayloadLength()) != len(seg)-header.IPv6MinimumSize {
						t.Fatalf("segment %d: payload length %d", i, ip.PayloadLength())
					}
					tcp = header.TCP(ip.Payload())
				} else {
					ip := header.IPv4(seg)
					if !ip.IsChecksumValid() || int(ip.TotalLength()) != len(seg) || ip.ID() != 100+uint16(i) {
						t.Fatalf("segment %d: bad IPv4 header", i)
					}
					tcp = header.TCP(ip.Payload())
				}
				data := tcp[tcp.DataOffset():]
				if !tcp.IsChecksumValid(src, dst, checksum.Checksum(data, 0), uint16(len(data))) {
					t.Fatalf("segment %d: bad TCP checksum", i)
				}
				if tcp.SequenceNumber() != 0xfffffff0+uint32(len(got)) {
					t.Fatalf("segment %d: seq %x", i, tcp.SequenceNumber())
				}
				last, first := i == n-1, i == 0
				f := tcp.Flags()
				if (f&header.TCPFlagFin != 0) != last || (f&header.TCPFlagPsh != 0) != last || (f&header.TCPFlagCwr != 0) != first {
					t.Fatalf("segment %d of %d: flags %v", i, n, f)
				}
				if len(data) > mss {
					t.Fatalf("segment %d: %d bytes > MSS", i, len(data))
				}
				got = append(got, data...)
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("v6=%v size=%d: reassembled payload differs", v6, size)
			}
		}
	}
}

func TestSegmentTCPMalformed(t *testing.T) {
	bufs := [][]byte{make([]byte, 2000)}
	sizes := []int{0}
	for _, pkt := range [][]byte{nil, {0x45}, {0x60, 0}, make([]byte, 40), {0x45, 0, 0, 40, 0, 0, 0, 0, 64, 17}} {
		if n := segmentTCP([][]byte{pkt}, len(pkt), stack.GSO{MSS: 100}, DefaultMTU, bufs, sizes, 0); n != 0 {
			t.Errorf("segmentTCP(%x) = %d, want 0", pkt, n)
		}
	}
}

// TestWholeBatchPayload checks the segment sizes chosen so that runs of
// WireGuard datagrams pass loopback as one UDP GSO send: gVisor's MSS at
// the default MTU (1340 bytes after 52 bytes of IPv4 and TCP headers with
// timestamps) is shortened to the next padding unit, and every result is
// either the MSS or a size whose runs fit.
func TestWholeBatchPayload(t *testing.T) {
	if got := wholeBatchPayload(1340, 52, DefaultMTU); got != 1324 {
		t.Errorf("wholeBatchPayload(1340, 52, 1420) = %d, want 1324", got)
	}
	if got := wholeBatchPayload(1000, 52, DefaultMTU); got != 1000 {
		t.Errorf("wholeBatchPayload(1000, 52, 1420) = %d, want 1000 (runs fit)", got)
	}
	for _, mtu := range []int{1280, 1420, 1500, 9000} {
		for _, hdrLen := range []int{40, 52, 60, 72} {
			for mss := 500; mss+hdrLen <= mtu; mss++ {
				p := wholeBatchPayload(mss, hdrLen, mtu)
				if p > mss || p < mss-4*wgPadding {
					t.Fatalf("wholeBatchPayload(%d, %d, %d) = %d", mss, hdrLen, mtu, p)
				}
				if p == mss {
					continue
				}
				dgram := min((hdrLen+p+wgPadding-1)&^(wgPadding-1), mtu) + wgOverhead
				if runBytes(dgram, maxUDPRunV4) > maxGSOWhole || runBytes(dgram, maxUDPRunV6) > maxGSOWhole {
					t.Fatalf("wholeBatchPayload(%d, %d, %d) = %d: runs of %d-byte datagrams are too long", mss, hdrLen, mtu, p, dgram)
				}
			}
		}
	}
}

// FuzzInitiatorKey feeds arbitrary handshake initiations to the lazy-peer
// decoder, which reads UDP datagrams from the network: it must never panic
// and must only accept messages encrypted to our key.
func FuzzInitiatorKey(f *testing.F) {
	priv, _ := GeneratePrivateKey()
	l := &lazyState{}
	l.setIdentity(priv)
	f.Add(make([]byte, initiationSize))
	f.Add(append([]byte{1, 0, 0, 0}, make([]byte, initiationSize-4)...))
	f.Fuzz(func(t *testing.T, msg []byte) {
		if _, ok := l.initiatorKey(msg); ok {
			t.Fatalf("accepted a forged initiation %x", msg)
		}
	})
}

package tunnel

import (
	"os"
	"sync"
	"syscall"

	"golang.zx2c4.com/wireguard/tun"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/stack/gro"
)

// link joins WireGuard and gVisor without a channel in between: it is both
// the tun.Device that wireguard-go's device reads and writes, and the
// stack.LinkEndpoint of the netstack NIC.
//
// Outbound, the stack's WritePackets appends to a queue and wireguard-go's
// reader goroutine drains the whole queue per Read call (up to batchSize
// packets, cutting GSO super-packets into MTU-sized segments on the way), so
// a burst of TCP segments costs one wake-up instead of one channel hand-off
// per packet. Inbound, Write hands a batch of decrypted packets straight to
// the stack's dispatcher through gVisor's GRO, which coalesces consecutive
// TCP segments of a flow so the TCP layer processes a few large segments
// instead of many small ones. Checksums are not verified on input: the
// packets were authenticated by WireGuard's AEAD.
type link struct {
	mtu    uint32
	gsoMax uint32 // 0 disables GSO

	mu      sync.Mutex
	cond    sync.Cond               // signalled when queue grows or closed is set
	queue   []*stack.PacketBuffer   // guarded by mu; outbound packets
	closed  bool                    // guarded by mu
	disp    stack.NetworkDispatcher // guarded by mu
	onClose func()                  // guarded by mu

	// onSend, if set, sees the first bytes (the IP header) of every
	// outbound packet before wireguard-go routes it. Called only from
	// Read, which wireguard-go calls from one goroutine.
	onSend func(hdr []byte)

	taken []*stack.PacketBuffer // Read's batch, reused; Read has one caller

	events  chan tun.Event
	groPool sync.Pool
}

const (
	// batchSize is how many packets wireguard-go moves per Read or Write
	// call; it matches the UDP batch size of conn.StdNetBind.
	batchSize = 128
	// maxQueued bounds the outbound queue; beyond it packets are dropped
	// and TCP backs off, as on a full NIC ring.
	maxQueued = 2048
)

var (
	_ tun.Device         = (*link)(nil)
	_ stack.LinkEndpoint = nicEndpoint{}
	_ stack.GSOEndpoint  = nicEndpoint{}
)

// nicEndpoint is the link as the stack sees it: tun.Device and
// stack.LinkEndpoint both name a method MTU and a method Close, with
// different signatures.
type nicEndpoint struct{ *link }

// MTU implements stack.LinkEndpoint.
func (e nicEndpoint) MTU() uint32 { return e.mtu }

// Close implements stack.LinkEndpoint; the stack calls it when the NIC is
// removed. The link itself is closed by wireguard-go's device.
func (e nicEndpoint) Close() {}

func newLink(mtu int, gso bool) *link {
	l := &link{mtu: uint32(mtu), events: make(chan tun.Event, 1)}
	if gso {
		l.gsoMax = 1 << 16
	}
	l.cond.L = &l.mu
	l.events <- tun.EventUp
	l.groPool.New = func() any {
		g := new(gro.GRO)
		g.Init(true)
		return g
	}
	return l
}

// ---- tun.Device (the wireguard-go side) ----

func (l *link) File() *os.File           { return nil }
func (l *link) MTU() (int, error)        { return int(l.mtu), nil }
func (l *link) Name() (string, error)    { return "gonaut", nil }
func (l *link) Events() <-chan tun.Event { return l.events }
func (l *link) BatchSize() int           { return batchSize }

// Read blocks until the stack has sent at least one packet, then copies as
// many queued packets as fit into bufs.
func (l *link) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	l.mu.Lock()
	for len(l.queue) == 0 && !l.closed {
		l.cond.Wait()
	}
	if l.closed {
		l.mu.Unlock()
		return 0, os.ErrClosed
	}
	// Take packets while their segments fit into bufs.
	room := len(bufs)
	take := 0
	for take < len(l.queue) {
		segs := segmentCount(l.queue[take], int(l.mtu))
		if segs > room {
			break
		}
		room -= segs
		take++
	}
	if take == 0 {
		// A GSO packet wants more buffers than wireguard-go offers; it
		// cannot happen with gsoMax/MSS < batchSize, but never spin.
		take = 1
	}
	pkts := append(l.taken[:0], l.queue[:take]...)
	n := copy(l.queue, l.queue[take:])
	clear(l.queue[n:])
	l.queue = l.queue[:n]
	l.mu.Unlock()

	defer func() { clear(pkts); l.taken = pkts[:0] }()
	count := 0
	if l.onSend != nil {
		for _, pkt := range pkts {
			l.onSend(pkt.NetworkHeader().Slice())
		}
	}
	for _, pkt := range pkts {
		if count < len(bufs) {
			count += l.emit(pkt, bufs[count:], sizes[count:], offset)
		}
		pkt.DecRef()
	}
	return count, nil
}

// emit copies pkt into bufs (segmenting it when it is a GSO packet) and
// returns how many buffers it filled.
func (l *link) emit(pkt *stack.PacketBuffer, bufs [][]byte, sizes []int, offset int) int {
	views := pkt.AsSlices()
	if pkt.GSOOptions.Type == stack.GSONone || l.gsoMax == 0 {
		n := 0
		for _, s := range views {
			n += copy(bufs[0][offset+n:], s)
		}
		sizes[0] = n
		return 1
	}
	return segmentTCP(views, pkt.Size(), pkt.GSOOptions, int(l.mtu), bufs, sizes, offset)
}

// Write delivers decrypted packets to the stack.
func (l *link) Write(bufs [][]byte, offset int) (int, error) {
	l.mu.Lock()
	d := l.disp
	l.mu.Unlock()
	if d == nil {
		return len(bufs), nil
	}
	g := l.groPool.Get().(*gro.GRO)
	g.Dispatcher = d
	for _, b := range bufs {
		p := b[offset:]
		if len(p) == 0 {
			continue
		}
		var proto tcpip.NetworkProtocolNumber
		switch p[0] >> 4 {
		case 4:
			proto = header.IPv4ProtocolNumber
		case 6:
			proto = header.IPv6ProtocolNumber
		default:
			g.Flush()
			g.Dispatcher = nil
			l.groPool.Put(g)
			return 0, syscall.EAFNOSUPPORT
		}
		pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{
			Payload: buffer.MakeWithData(p),
		})
		pkt.NetworkProtocolNumber = proto
		pkt.RXChecksumValidated = true
		g.Enqueue(pkt)
		pkt.DecRef()
	}
	g.Flush()
	g.Dispatcher = nil
	l.groPool.Put(g)
	return len(bufs), nil
}

// Close is called by wireguard-go's device when it closes; it unblocks Read.
func (l *link) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	q := l.queue
	l.queue = nil
	l.mu.Unlock()
	l.cond.Broadcast()
	for _, p := range q {
		p.DecRef()
	}
	close(l.events)
	return nil
}

// ---- stack.LinkEndpoint (the gVisor side) ----

func (l *link) SetMTU(uint32)                  {}
func (l *link) MaxHeaderLength() uint16        { return 0 }
func (l *link) LinkAddress() tcpip.LinkAddress { return "" }
func (l *link) SetLinkAddress(tcpip.LinkAddress) {
}
func (l *link) Wait()                                   {}
func (l *link) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareNone }
func (l *link) AddHeader(*stack.PacketBuffer)           {}
func (l *link) ParseHeader(*stack.PacketBuffer) bool    { return true }
func (l *link) SetOnCloseAction(f func())               { l.mu.Lock(); l.onClose = f; l.mu.Unlock() }
func (l *link) GSOMaxSize() uint32                      { return l.gsoMax }
func (l *link) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityRXChecksumOffload
}

func (l *link) SupportedGSO() stack.SupportedGSO {
	if l.gsoMax == 0 {
		return stack.GSONotSupported
	}
	return stack.HostGSOSupported
}

func (l *link) Attach(d stack.NetworkDispatcher) {
	l.mu.Lock()
	l.disp = d
	l.mu.Unlock()
}

func (l *link) IsAttached() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.disp != nil
}

// WritePackets queues outbound packets for wireguard-go's reader.
func (l *link) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, &tcpip.ErrClosedForSend{}
	}
	n := 0
	for _, p := range pkts.AsSlice() {
		if len(l.queue) >= maxQueued {
			break
		}
		p.IncRef()
		l.queue = append(l.queue, p)
		n++
	}
	l.mu.Unlock()
	if n > 0 {
		l.cond.Signal()
	}
	if n == 0 {
		return 0, &tcpip.ErrNoBufferSpace{}
	}
	return n, nil
}

package usbip

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
	"unicode/utf16"
)

// withConnContext makes blocking I/O on conn honour ctx for the duration
// of fn: ctx's deadline becomes conn's, and cancellation interrupts it.
func withConnContext(ctx context.Context, conn net.Conn, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	err := fn()
	if !stop() {
		err = errors.Join(ctx.Err(), err)
	}
	conn.SetDeadline(time.Time{})
	return err
}

// List sends OP_REQ_DEVLIST on conn and returns the devices the server
// exports to this client. The server closes the connection afterwards; so
// should the caller.
func List(ctx context.Context, conn net.Conn) ([]ExportedDevice, error) {
	var devs []ExportedDevice
	err := withConnContext(ctx, conn, func() error {
		var req [opHeaderLen]byte
		putOpHeader(req[:], opReqDevlist, 0)
		if _, err := conn.Write(req[:]); err != nil {
			return err
		}
		br := bufio.NewReader(conn)
		code, status, err := readOpHeader(br)
		if err != nil {
			return err
		}
		if code != opRepDevlist {
			return protoErr("devlist reply code %#04x", code)
		}
		if status != uint32(OpOK) {
			return &OpError{Op: "devlist", Status: OpStatus(status)}
		}
		devs, err = readDevlistReply(br)
		return err
	})
	var oe *OpError
	switch {
	case errors.As(err, &oe):
		return nil, oe
	case err != nil:
		return nil, fmt.Errorf("usbip: list: %w", err)
	}
	return devs, nil
}

// ImportHandshake sends OP_REQ_IMPORT for busID on conn and reads the
// reply. On success conn carries the device's URB traffic from here on;
// Import wraps it in a RemoteDevice, AttachVHCI hands it to the kernel. A
// refusal is an *OpError matching ErrNotFound, ErrBusy or ErrDenied.
func ImportHandshake(ctx context.Context, conn net.Conn, busID string) (ExportedDevice, error) {
	var dev ExportedDevice
	if len(busID) >= busIDLen {
		return dev, fmt.Errorf("usbip: import: bus id %q too long", busID)
	}
	err := withConnContext(ctx, conn, func() error {
		req := make([]byte, opHeaderLen+busIDLen)
		putOpHeader(req, opReqImport, 0)
		putString(req[opHeaderLen:], busID)
		if _, err := conn.Write(req); err != nil {
			return err
		}
		code, status, err := readOpHeader(conn)
		if err != nil {
			return err
		}
		if code != opRepImport {
			return protoErr("import reply code %#04x", code)
		}
		if status != uint32(OpOK) {
			return &OpError{Op: "import", BusID: busID, Status: OpStatus(status)}
		}
		rec := make([]byte, deviceRecordLen)
		if _, err := io.ReadFull(conn, rec); err != nil {
			return err
		}
		if dev, err = parseDeviceRecord(rec); err != nil {
			return err
		}
		if dev.BusID != busID {
			return protoErr("import reply for %q, asked for %q", dev.BusID, busID)
		}
		return nil
	})
	var oe *OpError
	switch {
	case errors.As(err, &oe):
		return dev, oe
	case err != nil:
		return dev, fmt.Errorf("usbip: import: %w", err)
	}
	return dev, nil
}

// ClientOptions configures Import. A nil *ClientOptions is the zero value.
type ClientOptions struct {
	// Logger receives protocol errors. Default: discard.
	Logger *slog.Logger
	// SkipDescriptors leaves Info's interfaces, endpoints and serial
	// empty instead of reading the device and configuration descriptors
	// right after the import. Default: false (they are read).
	SkipDescriptors bool
	// UnlinkTimeout is how long a cancelled transfer waits for the
	// server to answer its UNLINK before the connection is declared dead.
	// Default: 5s.
	UnlinkTimeout time.Duration
}

// RemoteDevice is a device imported over USB/IP, driven from Go: no kernel
// module is involved, so it works on any OS. It implements Device, so it
// can itself be exported by a Server. Transfers may be issued from many
// goroutines at once; each is one URB on the wire, and they complete in
// whatever order the server answers them.
type RemoteDevice struct {
	conn          net.Conn
	exp           ExportedDevice
	info          DeviceInfo
	log           *slog.Logger
	unlinkTimeout time.Duration

	wmu sync.Mutex // serialises writes to conn

	mu      sync.Mutex // guards the fields below
	seq     uint32
	calls   map[uint32]*Request
	unlinks map[uint32]*Request // CMD_UNLINK seqnum -> its victim
	err     error               // why the connection ended

	done      chan struct{} // closed when the reader has exited
	closeOnce sync.Once
}

var _ Device = (*RemoteDevice)(nil)

// Import imports busID over conn, which becomes owned by the returned
// device (Close closes it). Unless opts.SkipDescriptors, it reads the
// device and configuration descriptors so that Info is complete.
func Import(ctx context.Context, conn net.Conn, busID string, opts *ClientOptions) (*RemoteDevice, error) {
	exp, err := ImportHandshake(ctx, conn, busID)
	if err != nil {
		return nil, err
	}
	var o ClientOptions
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.UnlinkTimeout <= 0 {
		o.UnlinkTimeout = 5 * time.Second
	}
	d := &RemoteDevice{
		conn:          conn,
		exp:           exp,
		log:           o.Logger,
		unlinkTimeout: o.UnlinkTimeout,
		calls:         map[uint32]*Request{},
		unlinks:       map[uint32]*Request{},
		done:          make(chan struct{}),
	}
	d.info = DeviceInfo{
		Speed: exp.Speed, Vendor: exp.Vendor, Product: exp.Product, BCDDevice: exp.BCDDevice,
		Class: exp.Class, SubClass: exp.SubClass, Protocol: exp.Protocol,
		ConfigurationValue: exp.ConfigurationValue, NumConfigurations: exp.NumConfigurations,
	}
	go d.readLoop()
	if !o.SkipDescriptors {
		if err := d.describe(ctx); err != nil {
			d.Close()
			return nil, fmt.Errorf("usbip: import %s: descriptors: %w", busID, err)
		}
	}
	return d, nil
}

// describe reads the device, configuration and serial-number descriptors.
func (d *RemoteDevice) describe(ctx context.Context) error {
	dd := make([]byte, 18)
	n, err := d.Control(ctx, Setup{RequestType: 0x80, Request: RequestGetDescriptor, Value: DescriptorDevice << 8, Length: 18}, dd)
	if err != nil {
		return err
	}
	info := d.info
	if err := ParseDeviceDescriptor(dd[:n], &info); err != nil {
		return err
	}
	hdr := make([]byte, 9)
	if _, err := d.Control(ctx, Setup{RequestType: 0x80, Request: RequestGetDescriptor, Value: DescriptorConfig << 8, Length: 9}, hdr); err != nil {
		return err
	}
	total := binary.LittleEndian.Uint16(hdr[2:])
	cfg := make([]byte, total)
	n, err = d.Control(ctx, Setup{RequestType: 0x80, Request: RequestGetDescriptor, Value: DescriptorConfig << 8, Length: total}, cfg)
	if err != nil {
		return err
	}
	if _, info.Interfaces, err = ParseConfigDescriptor(cfg[:n]); err != nil {
		return err
	}
	if idx := dd[16]; idx != 0 {
		sd := make([]byte, 255)
		n, err := d.Control(ctx, Setup{RequestType: 0x80, Request: RequestGetDescriptor, Value: DescriptorString<<8 | uint16(idx), Index: 0x0409, Length: 255}, sd)
		if err == nil {
			info.Serial = decodeStringDescriptor(sd[:n])
		}
	}
	d.info = info
	return nil
}

// decodeStringDescriptor decodes a UTF-16LE string descriptor.
func decodeStringDescriptor(b []byte) string {
	if len(b) < 2 || b[1] != DescriptorString {
		return ""
	}
	l := min(int(b[0]), len(b))
	if l < 2 {
		return ""
	}
	u := make([]uint16, 0, (l-2)/2)
	for i := 2; i+1 < l; i += 2 {
		u = append(u, binary.LittleEndian.Uint16(b[i:]))
	}
	return string(utf16.Decode(u))
}

// Exported is the device record from the import reply.
func (d *RemoteDevice) Exported() ExportedDevice { return d.exp }

// Info describes the device, from the import reply and the descriptors
// read at import.
func (d *RemoteDevice) Info() DeviceInfo { return d.info }

// Request is one URB in flight, returned by Submit.
type Request struct {
	d      *RemoteDevice
	seq    uint32
	in     bool
	buf    []byte
	iso    []IsoPacket
	done   chan struct{}
	n      int
	err    error
	stop   func() bool // stops the ctx watcher
	timer  *time.Timer // unlink-reply timeout; guarded by d.mu
	ctxErr error       // ctx error that triggered an unlink; guarded by d.mu
	unlink bool        // CMD_UNLINK sent; guarded by d.mu
}

// Wait blocks until the URB completes and returns the bytes transferred
// and its error. A transfer whose context was cancelled before the server
// completed it returns an error matching both ErrUnlinked and the context
// error.
func (r *Request) Wait() (int, error) {
	<-r.done
	r.stop()
	return r.n, r.err
}

// Done is closed when the URB has completed.
func (r *Request) Done() <-chan struct{} { return r.done }

// Submit sends one bulk or interrupt URB for endpoint ep (| 0x80 for IN)
// without waiting: URBs submitted one after another reach the endpoint in
// that order, which is how a program keeps many in flight. data must not
// be touched until Wait returns. Cancelling ctx unlinks the URB.
func (d *RemoteDevice) Submit(ctx context.Context, ep uint8, data []byte) (*Request, error) {
	return d.submit(ctx, ep, [8]byte{}, data, nil)
}

// Transfer performs one bulk or interrupt transfer and waits for it.
func (d *RemoteDevice) Transfer(ctx context.Context, ep uint8, data []byte) (int, error) {
	r, err := d.Submit(ctx, ep, data)
	if err != nil {
		return 0, err
	}
	return r.Wait()
}

// Control performs a control transfer. data must hold setup.Length bytes.
func (d *RemoteDevice) Control(ctx context.Context, setup Setup, data []byte) (int, error) {
	if len(data) < int(setup.Length) {
		return 0, fmt.Errorf("usbip: control: %d-byte buffer for wLength %d", len(data), setup.Length)
	}
	ep := uint8(0)
	if setup.In() {
		ep = 0x80
	}
	r, err := d.submit(ctx, ep, setup.Bytes(), data[:setup.Length], nil)
	if err != nil {
		return 0, err
	}
	return r.Wait()
}

// Isochronous performs an isochronous transfer; on return each packet's
// ActualLength and Status are set.
func (d *RemoteDevice) Isochronous(ctx context.Context, ep uint8, data []byte, packets []IsoPacket) (int, error) {
	if len(packets) == 0 || len(packets) > MaxISOPackets {
		return 0, fmt.Errorf("usbip: isochronous: %d packets, want 1 to %d", len(packets), MaxISOPackets)
	}
	for i, p := range packets {
		if uint64(p.Offset)+uint64(p.Length) > uint64(len(data)) {
			return 0, fmt.Errorf("usbip: isochronous: packet %d outside the buffer", i)
		}
	}
	r, err := d.submit(ctx, ep, [8]byte{}, data, packets)
	if err != nil {
		return 0, err
	}
	return r.Wait()
}

// Reset resets the device with the SET_FEATURE(PORT_RESET) request that
// the Linux vhci driver uses and USB/IP servers map to a port reset.
func (d *RemoteDevice) Reset(ctx context.Context) error {
	_, err := d.Control(ctx, Setup{RequestType: RequestTypeClass | RecipientOther, Request: RequestSetFeature, Value: FeaturePortReset}, nil)
	return err
}

func (d *RemoteDevice) submit(ctx context.Context, ep uint8, setup [8]byte, data []byte, iso []IsoPacket) (*Request, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := &Request{d: d, in: ep&0x80 != 0, buf: data, iso: iso, done: make(chan struct{})}
	d.mu.Lock()
	if d.err != nil {
		err := d.err
		d.mu.Unlock()
		return nil, err
	}
	d.seq++
	r.seq = d.seq
	d.calls[r.seq] = r
	d.mu.Unlock()

	// Small OUT payloads travel in the header's buffer: one write, one
	// segment.
	const inline = 4096
	small := !r.in && len(data) <= inline
	hb := make([]byte, headerLen, headerLen+len(data)*boolInt(small))
	putCmdSubmit(hb, r.seq, d.exp.DevID(), ep, 0, len(data), len(iso), setup)
	bufs := net.Buffers{hb}
	if !r.in && len(data) > 0 {
		if small {
			bufs[0] = append(hb, data...)
		} else {
			bufs = append(bufs, data)
		}
	}
	if len(iso) > 0 {
		desc := make([]byte, len(iso)*isoDescLen)
		putIsoPackets(desc, iso)
		bufs = append(bufs, desc)
	}
	// Holding wmu across registration order and the write keeps URBs of
	// one goroutine in submission order on the wire.
	d.wmu.Lock()
	_, err := bufs.WriteTo(d.conn)
	d.wmu.Unlock()
	if err != nil {
		d.fail(fmt.Errorf("%w: write: %w", ErrClosed, err))
	}
	r.stop = context.AfterFunc(ctx, func() { d.unlink(r, ctx.Err()) })
	return r, nil
}

// unlink sends CMD_UNLINK for r, unless it has completed.
func (d *RemoteDevice) unlink(r *Request, cause error) {
	d.mu.Lock()
	if _, pending := d.calls[r.seq]; !pending || r.unlink || d.err != nil {
		d.mu.Unlock()
		return
	}
	r.unlink, r.ctxErr = true, cause
	d.seq++
	useq := d.seq
	d.unlinks[useq] = r
	r.timer = time.AfterFunc(d.unlinkTimeout, func() {
		d.fail(protoErr("no reply to UNLINK of seqnum %d within %v", r.seq, d.unlinkTimeout))
	})
	d.mu.Unlock()
	hb := make([]byte, headerLen)
	putCmdUnlink(hb, useq, d.exp.DevID(), r.seq)
	d.wmu.Lock()
	_, err := d.conn.Write(hb)
	d.wmu.Unlock()
	if err != nil {
		d.fail(fmt.Errorf("%w: write: %w", ErrClosed, err))
	}
}

// finishLocked completes r. d.mu must be held.
func (d *RemoteDevice) finishLocked(r *Request, n int, err error) {
	delete(d.calls, r.seq)
	if r.timer != nil {
		r.timer.Stop()
	}
	r.n, r.err = n, err
	close(r.done)
}

// fail ends the connection with err. The reader then exits and fails
// every outstanding URB: only the reader completes URBs, so none completes
// while the reader may still be filling its buffer.
func (d *RemoteDevice) fail(err error) {
	d.mu.Lock()
	if d.err == nil {
		d.err = err
		if !errors.Is(err, ErrClosed) {
			d.log.Warn("usbip: imported device connection failed", "busid", d.exp.BusID, "err", err)
		}
	}
	d.mu.Unlock()
	d.conn.Close()
}

func (d *RemoteDevice) readLoop() {
	defer close(d.done)
	defer func() {
		d.mu.Lock()
		for _, r := range d.calls {
			d.finishLocked(r, 0, d.err)
		}
		d.mu.Unlock()
	}()
	br := bufio.NewReaderSize(d.conn, 64<<10)
	var hb [headerLen]byte
	for {
		err := d.readOne(br, hb[:])
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				err = fmt.Errorf("%w: %w", ErrClosed, err)
			}
			d.fail(err)
			return
		}
	}
}

func (d *RemoteDevice) readOne(br *bufio.Reader, hb []byte) error {
	if _, err := io.ReadFull(br, hb); err != nil {
		return err
	}
	rep, err := parseReply(hb)
	if err != nil {
		return err
	}
	d.mu.Lock()
	if rep.kind == retUnlink {
		defer d.mu.Unlock()
		r, ok := d.unlinks[rep.seq]
		if !ok {
			return protoErr("RET_UNLINK for unknown seqnum %d", rep.seq)
		}
		delete(d.unlinks, rep.seq)
		if _, pending := d.calls[r.seq]; pending {
			// Unlinked (status −ECONNRESET); a 0 status here would mean
			// the server claims a RET_SUBMIT we never saw: treat the URB
			// as lost all the same.
			d.finishLocked(r, 0, fmt.Errorf("%w: %w", ErrUnlinked, r.ctxErr))
		} else if r.timer != nil {
			r.timer.Stop()
		}
		return nil
	}
	r, ok := d.calls[rep.seq]
	d.mu.Unlock()
	if !ok {
		return protoErr("RET_SUBMIT for unknown seqnum %d", rep.seq)
	}
	// Only this goroutine completes calls that are not failed, so r stays
	// registered (and its buffer ours) while the body is read.
	if err := readReplyBody(br, &rep, r.in, r.buf, r.iso); err != nil {
		return err
	}
	var terr error
	if rep.status != StatusOK {
		terr = rep.status
	}
	d.mu.Lock()
	if _, pending := d.calls[r.seq]; pending {
		d.finishLocked(r, rep.actual, terr)
	}
	d.mu.Unlock()
	return nil
}

// Close closes the connection, which detaches the device on the server,
// fails every outstanding transfer with ErrClosed, and waits for the
// reader goroutine. It is safe to call twice.
func (d *RemoteDevice) Close() error {
	d.closeOnce.Do(func() {
		d.fail(ErrClosed)
	})
	<-d.done
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

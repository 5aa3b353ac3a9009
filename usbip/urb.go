package usbip

import (
	"encoding/binary"
	"io"
)

// urbDirIn is USBIP_URB_DIR_IN in transfer_flags (include/uapi/linux/usbip.h).
const urbDirIn = 0x0200

// header is struct usbip_header: the 20-byte basic header and the 28 bytes
// whose meaning depends on the command.
//
//	CMD_SUBMIT  f0 transfer_flags  f1 transfer_buffer_length  f2 start_frame  f3 number_of_packets  f4 interval  setup
//	RET_SUBMIT  f0 status          f1 actual_length           f2 start_frame  f3 number_of_packets  f4 error_count  (padding)
//	CMD_UNLINK  f0 unlink_seqnum   (padding)
//	RET_UNLINK  f0 status          (padding)
type header struct {
	command, seqnum, devid, direction, ep uint32
	f                                     [5]uint32
	setup                                 [8]byte
}

func (h *header) put(b []byte) {
	_ = b[headerLen-1]
	binary.BigEndian.PutUint32(b[0:], h.command)
	binary.BigEndian.PutUint32(b[4:], h.seqnum)
	binary.BigEndian.PutUint32(b[8:], h.devid)
	binary.BigEndian.PutUint32(b[12:], h.direction)
	binary.BigEndian.PutUint32(b[16:], h.ep)
	for i, v := range h.f {
		binary.BigEndian.PutUint32(b[20+4*i:], v)
	}
	copy(b[40:48], h.setup[:])
}

func (h *header) parse(b []byte) {
	_ = b[headerLen-1]
	h.command = binary.BigEndian.Uint32(b[0:])
	h.seqnum = binary.BigEndian.Uint32(b[4:])
	h.devid = binary.BigEndian.Uint32(b[8:])
	h.direction = binary.BigEndian.Uint32(b[12:])
	h.ep = binary.BigEndian.Uint32(b[16:])
	for i := range h.f {
		h.f[i] = binary.BigEndian.Uint32(b[20+4*i:])
	}
	copy(h.setup[:], b[40:48])
}

func putIsoPackets(b []byte, ps []IsoPacket) {
	for i, p := range ps {
		o := i * isoDescLen
		binary.BigEndian.PutUint32(b[o:], p.Offset)
		binary.BigEndian.PutUint32(b[o+4:], p.Length)
		binary.BigEndian.PutUint32(b[o+8:], p.ActualLength)
		binary.BigEndian.PutUint32(b[o+12:], uint32(p.Status))
	}
}

func parseIsoPackets(b []byte) []IsoPacket {
	ps := make([]IsoPacket, len(b)/isoDescLen)
	for i := range ps {
		o := i * isoDescLen
		ps[i] = IsoPacket{
			Offset:       binary.BigEndian.Uint32(b[o:]),
			Length:       binary.BigEndian.Uint32(b[o+4:]),
			ActualLength: binary.BigEndian.Uint32(b[o+8:]),
			Status:       Errno(binary.BigEndian.Uint32(b[o+12:])),
		}
	}
	return ps
}

// command is a decoded CMD_SUBMIT or CMD_UNLINK, as the server sees it.
type command struct {
	kind     uint32 // cmdSubmit or cmdUnlink
	seq      uint32
	devid    uint32
	ep       uint8 // endpoint address, 0x80 set for IN
	typ      TransferType
	flags    uint32
	length   int // transfer_buffer_length
	start    int32
	interval int32
	setup    Setup
	packets  int // ISO packets; 0 for other transfers
	data     []byte
	iso      []IsoPacket
	victim   uint32 // CMD_UNLINK's unlink_seqnum
}

// endpointLookup tells the command decoder the transfer type of endpoint
// addr (number | 0x80 for IN) of the imported device.
type endpointLookup func(addr uint8) (TransferType, bool)

// parseCommand decodes and validates a command header the way the Linux
// stub driver hardened its CMD_SUBMIT path: known command, direction 0 or
// 1, endpoint 0–15 and present in the device, transfer length within
// maxTransfer, for isochronous endpoints 0–1024 packets. number_of_packets
// is ignored for other transfer types, as the protocol says.
func parseCommand(b []byte, maxTransfer int, lookup endpointLookup) (command, error) {
	var h header
	h.parse(b)
	c := command{kind: h.command, seq: h.seqnum, devid: h.devid}
	switch h.command {
	case cmdUnlink:
		c.victim = h.f[0]
		return c, nil
	case cmdSubmit:
	default:
		return c, protoErr("unknown command %#x", h.command)
	}
	if h.direction > dirIn {
		return c, protoErr("direction %d", h.direction)
	}
	if h.ep > 15 {
		return c, protoErr("endpoint %d", h.ep)
	}
	c.ep = uint8(h.ep)
	if h.direction == dirIn {
		c.ep |= 0x80
	}
	c.flags = h.f[0]
	length := int32(h.f[1])
	if length < 0 || int(length) > maxTransfer {
		return c, protoErr("transfer_buffer_length %d exceeds %d", length, maxTransfer)
	}
	c.length = int(length)
	c.start, c.interval = int32(h.f[2]), int32(h.f[4])
	c.setup = ParseSetup(h.setup)
	if h.ep == 0 {
		c.typ = TransferControl
	} else {
		t, ok := lookup(c.ep)
		if !ok {
			return c, protoErr("endpoint %#02x not in the device", c.ep)
		}
		c.typ = t
	}
	if c.typ == TransferIsochronous {
		n := int32(h.f[3])
		if n < 0 || n > MaxISOPackets {
			return c, protoErr("isochronous number_of_packets %d", n)
		}
		c.packets = int(n)
	}
	return c, nil
}

// readCommandBody reads the OUT payload and ISO descriptors of a
// CMD_SUBMIT into buf (len(buf) >= c.length) and validates every ISO
// descriptor's offset and length against the buffer.
func readCommandBody(r io.Reader, c *command, buf []byte) error {
	c.data = buf[:c.length]
	if c.ep&0x80 == 0 && c.length > 0 {
		if _, err := io.ReadFull(r, c.data); err != nil {
			return err
		}
	}
	if c.packets == 0 {
		return nil
	}
	db := make([]byte, c.packets*isoDescLen)
	if _, err := io.ReadFull(r, db); err != nil {
		return err
	}
	c.iso = parseIsoPackets(db)
	for i, p := range c.iso {
		if uint64(p.Offset)+uint64(p.Length) > uint64(c.length) {
			return protoErr("iso packet %d [%d,+%d) outside buffer of %d", i, p.Offset, p.Length, c.length)
		}
		c.iso[i].ActualLength, c.iso[i].Status = 0, 0
	}
	return nil
}

// readCommand reads one whole command: the decoder the server runs on
// every byte an importer sends.
func readCommand(r io.Reader, maxTransfer int, lookup endpointLookup) (command, error) {
	var b [headerLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return command{}, err
	}
	c, err := parseCommand(b[:], maxTransfer, lookup)
	if err != nil {
		return c, err
	}
	if c.kind == cmdSubmit {
		err = readCommandBody(r, &c, make([]byte, c.length))
	}
	return c, err
}

// putCmdSubmit encodes a CMD_SUBMIT header.
func putCmdSubmit(b []byte, seq, devid uint32, ep uint8, flags uint32, length int, packets int, setup [8]byte) {
	h := header{command: cmdSubmit, seqnum: seq, devid: devid, ep: uint32(ep & 0x0f), setup: setup}
	if ep&0x80 != 0 {
		h.direction = dirIn
		flags |= urbDirIn
	}
	h.f[0] = flags
	h.f[1] = uint32(length)
	// number_of_packets is 0 for non-ISO URBs: that is what the Linux vhci
	// and stub drivers send (urb->number_of_packets), and what Wireshark's
	// dissector sizes messages by. The protocol document's 0xffffffff is
	// accepted on input and ignored.
	h.f[3] = uint32(packets)
	h.put(b)
}

// putRetSubmit encodes a RET_SUBMIT header. devid, direction and ep are 0
// in replies, as the protocol document says.
func putRetSubmit(b []byte, seq uint32, status Errno, actual int, start int32, packets int, errorCount int) {
	h := header{command: retSubmit, seqnum: seq}
	h.f[0] = uint32(status)
	h.f[1] = uint32(actual)
	h.f[2] = uint32(start)
	h.f[3] = uint32(packets)
	h.f[4] = uint32(errorCount)
	h.put(b)
}

func putCmdUnlink(b []byte, seq, devid, victim uint32) {
	h := header{command: cmdUnlink, seqnum: seq, devid: devid}
	h.f[0] = victim
	h.put(b)
}

func putRetUnlink(b []byte, seq uint32, status Errno) {
	h := header{command: retUnlink, seqnum: seq}
	h.f[0] = uint32(status)
	h.put(b)
}

// reply is a decoded RET_SUBMIT or RET_UNLINK header, as the client sees it.
type reply struct {
	kind       uint32
	seq        uint32
	status     Errno
	actual     int
	start      int32
	packets    int32
	errorCount int32
}

func parseReply(b []byte) (reply, error) {
	var h header
	h.parse(b)
	r := reply{kind: h.command, seq: h.seqnum, status: Errno(h.f[0])}
	switch h.command {
	case retUnlink:
		return r, nil
	case retSubmit:
	default:
		return r, protoErr("unknown reply command %#x", h.command)
	}
	a := int32(h.f[1])
	if a < 0 {
		return r, protoErr("actual_length %d", a)
	}
	r.actual = int(a)
	r.start, r.packets, r.errorCount = int32(h.f[2]), int32(h.f[3]), int32(h.f[4])
	return r, nil
}

// readReplyBody reads the payload and ISO descriptors of a RET_SUBMIT for
// a request with buffer buf (IN data lands there) and iso packets,
// validating as the hardened Linux vhci driver does: actual_length within
// the request, ISO packet count equal to the request's, each packet's
// actual length within its own length, and the packets' actual lengths
// adding up to actual_length. For an ISO IN transfer the packed payload is
// spread back to each packet's offset.
func readReplyBody(r io.Reader, rep *reply, in bool, buf []byte, iso []IsoPacket) error {
	if rep.actual > len(buf) {
		return protoErr("actual_length %d exceeds the %d requested", rep.actual, len(buf))
	}
	if len(iso) == 0 {
		if in && rep.actual > 0 {
			_, err := io.ReadFull(r, buf[:rep.actual])
			return err
		}
		return nil
	}
	if int(rep.packets) != len(iso) {
		return protoErr("number_of_packets %d, submitted %d", rep.packets, len(iso))
	}
	var packed []byte
	if in && rep.actual > 0 {
		packed = make([]byte, rep.actual)
		if _, err := io.ReadFull(r, packed); err != nil {
			return err
		}
	}
	db := make([]byte, len(iso)*isoDescLen)
	if _, err := io.ReadFull(r, db); err != nil {
		return err
	}
	got := parseIsoPackets(db)
	total := 0
	for i, p := range got {
		if p.ActualLength > iso[i].Length {
			return protoErr("iso packet %d actual %d exceeds length %d", i, p.ActualLength, iso[i].Length)
		}
		total += int(p.ActualLength)
	}
	if total != rep.actual {
		return protoErr("iso actual lengths add to %d, actual_length %d", total, rep.actual)
	}
	off := 0
	for i, p := range got {
		if in {
			copy(buf[iso[i].Offset:], packed[off:off+int(p.ActualLength)])
		}
		off += int(p.ActualLength)
		iso[i].ActualLength, iso[i].Status = p.ActualLength, p.Status
	}
	return nil
}

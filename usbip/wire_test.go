package usbip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// testEndpoints is the endpoint table the decoder tests route by.
func testEndpoints(addr uint8) (TransferType, bool) {
	switch addr {
	case 0x81, 0x02:
		return TransferBulk, true
	case 0x83:
		return TransferInterrupt, true
	case 0x85, 0x06:
		return TransferIsochronous, true
	}
	return 0, false
}

func encodeSubmit(seq uint32, ep uint8, length int, packets []IsoPacket, payload []byte) []byte {
	b := make([]byte, headerLen)
	putCmdSubmit(b, seq, 1<<16|2, ep, 0, length, len(packets), [8]byte{0x80, 6, 0, 1, 0, 0, 18, 0})
	b = append(b, payload...)
	if len(packets) > 0 {
		d := make([]byte, len(packets)*isoDescLen)
		putIsoPackets(d, packets)
		b = append(b, d...)
	}
	return b
}

func TestCommandRoundTrip(t *testing.T) {
	payload := []byte("0123456789")
	msg := encodeSubmit(7, 0x02, len(payload), nil, payload)
	c, err := readCommand(bytes.NewReader(msg), 1<<20, testEndpoints)
	if err != nil {
		t.Fatal(err)
	}
	if c.kind != cmdSubmit || c.seq != 7 || c.devid != 1<<16|2 || c.ep != 0x02 || c.typ != TransferBulk || !bytes.Equal(c.data, payload) {
		t.Fatalf("decoded %+v", c)
	}
	if c.setup != (Setup{RequestType: 0x80, Request: 6, Value: 0x100, Length: 18}) {
		t.Errorf("setup %+v", c.setup)
	}
	// IN: no payload on the wire; ISO: descriptors after it.
	iso := []IsoPacket{{Offset: 0, Length: 100}, {Offset: 100, Length: 92}}
	msg = encodeSubmit(8, 0x85, 192, iso, nil)
	c, err = readCommand(bytes.NewReader(msg), 1<<20, testEndpoints)
	if err != nil {
		t.Fatal(err)
	}
	if c.ep != 0x85 || c.typ != TransferIsochronous || len(c.iso) != 2 || c.iso[1].Offset != 100 || len(c.data) != 192 {
		t.Fatalf("iso decoded %+v", c)
	}
	// A bulk URB's number_of_packets (0xffffffff per the document) is ignored.
	msg = encodeSubmit(9, 0x81, 512, nil, nil)
	binary.BigEndian.PutUint32(msg[0x20:], 0xffffffff)
	if c, err = readCommand(bytes.NewReader(msg), 1<<20, testEndpoints); err != nil || c.packets != 0 {
		t.Fatalf("bulk with 0xffffffff packets: %v %+v", err, c)
	}
	// The wire image of CMD_SUBMIT matches the protocol document's example
	// layout: command, seqnum, devid, direction, ep in the first 20 bytes.
	want := []byte{0, 0, 0, 1, 0, 0, 0, 9, 0, 1, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1}
	if !bytes.Equal(msg[:20], want) {
		t.Errorf("basic header % x, want % x", msg[:20], want)
	}
	if f := binary.BigEndian.Uint32(msg[0x14:]); f != urbDirIn {
		t.Errorf("transfer_flags %#x", f)
	}
}

func TestCommandValidation(t *testing.T) {
	mod := func(f func(b []byte)) []byte {
		b := encodeSubmit(1, 0x81, 64, nil, nil)
		f(b)
		return b
	}
	iso := func(n int, ps []IsoPacket, length int) []byte {
		b := encodeSubmit(1, 0x85, length, ps, nil)
		binary.BigEndian.PutUint32(b[0x20:], uint32(n))
		return b
	}
	tests := []struct {
		name string
		msg  []byte
	}{
		{"unknown command", mod(func(b []byte) { b[3] = 9 })},
		{"reply command", mod(func(b []byte) { b[3] = retSubmit })},
		{"direction 2", mod(func(b []byte) { b[15] = 2 })},
		{"endpoint 16", mod(func(b []byte) { b[19] = 16 })},
		{"endpoint absent", mod(func(b []byte) { b[19] = 4 })},
		{"negative length", mod(func(b []byte) { binary.BigEndian.PutUint32(b[0x18:], 0x80000000) })},
		{"length over cap", mod(func(b []byte) { binary.BigEndian.PutUint32(b[0x18:], 1<<20+1) })},
		{"iso 1025 packets", iso(1025, nil, 64)},
		{"iso negative packets", iso(-1, nil, 64)},
		{"iso offset outside", iso(1, []IsoPacket{{Offset: 60, Length: 8}}, 64)},
		{"iso offset overflow", iso(1, []IsoPacket{{Offset: 0xffffffff, Length: 2}}, 64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readCommand(bytes.NewReader(tt.msg), 1<<20, testEndpoints)
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("got %v, want ErrProtocol", err)
			}
		})
	}
	// Truncated input is an I/O error, not a panic.
	full := encodeSubmit(1, 0x02, 100, nil, make([]byte, 100))
	for _, n := range []int{0, 10, 47, 48, 120} {
		if _, err := readCommand(bytes.NewReader(full[:n]), 1<<20, testEndpoints); err == nil {
			t.Errorf("truncated to %d: no error", n)
		}
	}
}

func encodeRet(seq uint32, status Errno, actual int, packets []IsoPacket, payload []byte) []byte {
	b := make([]byte, headerLen)
	putRetSubmit(b, seq, status, actual, 0, len(packets), 0)
	b = append(b, payload...)
	if len(packets) > 0 {
		d := make([]byte, len(packets)*isoDescLen)
		putIsoPackets(d, packets)
		b = append(b, d...)
	}
	return b
}

func readRet(msg []byte, in bool, buf []byte, iso []IsoPacket) (reply, error) {
	r := bytes.NewReader(msg)
	var hb [headerLen]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return reply{}, err
	}
	rep, err := parseReply(hb[:])
	if err != nil {
		return rep, err
	}
	if rep.kind == retSubmit {
		err = readReplyBody(r, &rep, in, buf, iso)
	}
	return rep, err
}

func TestReplyValidation(t *testing.T) {
	buf := make([]byte, 16)
	if rep, err := readRet(encodeRet(3, 0, 5, nil, []byte("hello")), true, buf, nil); err != nil || rep.actual != 5 || string(buf[:5]) != "hello" {
		t.Fatalf("good reply: %v %+v", err, rep)
	}
	if _, err := readRet(encodeRet(3, 0, 17, nil, make([]byte, 17)), true, buf, nil); !errors.Is(err, ErrProtocol) {
		t.Errorf("actual over requested: %v", err)
	}
	if _, err := readRet(encodeRet(3, 0, -1, nil, nil), true, buf, nil); !errors.Is(err, ErrProtocol) {
		t.Errorf("negative actual: %v", err)
	}
	// ISO IN: packed payload spread to the packets' offsets.
	req := []IsoPacket{{Offset: 0, Length: 8}, {Offset: 8, Length: 8}}
	got := []IsoPacket{{Offset: 0, Length: 8, ActualLength: 3}, {Offset: 8, Length: 8, ActualLength: 2, Status: StatusProto}}
	clear(buf)
	if _, err := readRet(encodeRet(4, 0, 5, got, []byte("abcde")), true, buf, req); err != nil {
		t.Fatal(err)
	}
	if string(buf[:3]) != "abc" || string(buf[8:10]) != "de" || req[1].ActualLength != 2 || req[1].Status != StatusProto {
		t.Errorf("iso spread: %q %+v", buf, req)
	}
	bad := []struct {
		name string
		ps   []IsoPacket
		act  int
	}{
		{"count mismatch", got[:1], 3},
		{"packet actual over length", []IsoPacket{{Length: 8, ActualLength: 9}, {Length: 8}}, 9},
		{"sum mismatch", []IsoPacket{{Length: 8, ActualLength: 1}, {Length: 8, ActualLength: 1}}, 5},
	}
	for _, b := range bad {
		req := []IsoPacket{{Offset: 0, Length: 8}, {Offset: 8, Length: 8}}
		if _, err := readRet(encodeRet(4, 0, b.act, b.ps, make([]byte, b.act)), true, buf, req); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: %v", b.name, err)
		}
	}
}

func TestDevlistRoundTrip(t *testing.T) {
	d := ExportedDevice{Path: "/sys/x", BusID: "2-5", BusNum: 2, DevNum: 5, Speed: SpeedHigh, Vendor: 0x1209, Product: 3,
		Class: 0, Interfaces: []Interface{{Class: 8, SubClass: 6, Protocol: 0x50}}}
	body := []byte{0, 0, 0, 1}
	body = appendDeviceRecord(body, &d, true)
	if len(body) != 4+deviceRecordLen+4 {
		t.Fatalf("record length %d", len(body))
	}
	devs, err := readDevlistReply(bytes.NewReader(body))
	if err != nil || len(devs) != 1 {
		t.Fatal(err)
	}
	g := devs[0]
	if g.BusID != "2-5" || g.Path != "/sys/x" || g.DevID() != 2<<16|5 || g.NumInterfaces != 1 || g.Interfaces[0].Protocol != 0x50 {
		t.Errorf("decoded %+v", g)
	}
	// A busid field without its terminating zero is refused.
	unterminated := bytes.Clone(body)
	for i := 4 + pathLen; i < 4+pathLen+busIDLen; i++ {
		unterminated[i] = 'x'
	}
	if _, err := readDevlistReply(bytes.NewReader(unterminated)); !errors.Is(err, ErrProtocol) {
		t.Errorf("unterminated busid: %v", err)
	}
	if _, err := readDevlistReply(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff})); !errors.Is(err, ErrProtocol) {
		t.Errorf("huge count: %v", err)
	}
}

func TestParseConfigDescriptorErrors(t *testing.T) {
	good := []byte{9, 2, 25, 0, 1, 1, 0, 0x80, 50, 9, 4, 0, 0, 1, 3, 1, 1, 0, 7, 5, 0x81, 3, 8, 0, 7}
	v, ifs, err := ParseConfigDescriptor(good)
	if err != nil || v != 1 || len(ifs) != 1 || ifs[0].Endpoints[0].Type != TransferInterrupt {
		t.Fatalf("good: %v %d %+v", err, v, ifs)
	}
	for name, b := range map[string][]byte{
		"short":          good[:5],
		"total too long": append([]byte{9, 2, 200, 0}, good[4:]...),
		"zero length":    append(bytes.Clone(good[:9]), 0, 4),
		"ep outside":     {9, 2, 16, 0, 1, 1, 0, 0x80, 50, 7, 5, 0x81, 3, 8, 0, 7},
	} {
		if _, _, err := ParseConfigDescriptor(b); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

package usbip

import (
	"bytes"
	"testing"
)

// FuzzReadCommand feeds the server's command decoder (what every importer
// sends) arbitrary bytes: it must return a command or an error, never
// panic, and what it accepts must respect the caps.
func FuzzReadCommand(f *testing.F) {
	f.Add(encodeSubmit(1, 0x02, 4, nil, []byte("abcd")))
	f.Add(encodeSubmit(2, 0x85, 64, []IsoPacket{{Offset: 0, Length: 32}, {Offset: 32, Length: 32}}, nil))
	f.Add(encodeSubmit(3, 0x06, 8, []IsoPacket{{Offset: 0, Length: 8}}, make([]byte, 8)))
	u := make([]byte, headerLen)
	putCmdUnlink(u, 4, 0x10002, 1)
	f.Add(u)
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for {
			c, err := readCommand(r, 1<<16, testEndpoints)
			if err != nil {
				return
			}
			if c.kind == cmdSubmit {
				if c.length > 1<<16 || len(c.data) != c.length || c.packets > MaxISOPackets || len(c.iso) != c.packets {
					t.Fatalf("accepted out-of-cap command %+v", c)
				}
				for _, p := range c.iso {
					if uint64(p.Offset)+uint64(p.Length) > uint64(c.length) {
						t.Fatalf("accepted iso packet outside buffer %+v", p)
					}
				}
			}
		}
	})
}

// FuzzReadReply feeds the client's reply decoder arbitrary bytes for an IN
// request of 64 bytes, with and without ISO packets.
func FuzzReadReply(f *testing.F) {
	f.Add(encodeRet(1, 0, 5, nil, []byte("hello")), false)
	f.Add(encodeRet(1, 0, 3, []IsoPacket{{Length: 32, ActualLength: 3}, {Offset: 32, Length: 32}}, []byte("abc")), true)
	u := make([]byte, headerLen)
	putRetUnlink(u, 2, StatusConnReset)
	f.Add(u, false)
	f.Fuzz(func(t *testing.T, b []byte, withISO bool) {
		buf := make([]byte, 64)
		var iso []IsoPacket
		if withISO {
			iso = []IsoPacket{{Offset: 0, Length: 32}, {Offset: 32, Length: 32}}
		}
		rep, err := readRet(b, true, buf, iso)
		if err == nil && rep.kind == retSubmit && rep.actual > len(buf) {
			t.Fatalf("accepted actual %d", rep.actual)
		}
	})
}

// FuzzDevlist feeds the client's OP_REP_DEVLIST body decoder.
func FuzzDevlist(f *testing.F) {
	d := ExportedDevice{BusID: "1-1", Interfaces: []Interface{{Class: 3}}}
	f.Add(appendDeviceRecord([]byte{0, 0, 0, 1}, &d, true))
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		devs, err := readDevlistReply(bytes.NewReader(b))
		if err == nil && len(devs) > maxDevlist {
			t.Fatalf("%d devices", len(devs))
		}
	})
}

// FuzzConfigDescriptor feeds the descriptor parser a client runs on what
// a remote device returns.
func FuzzConfigDescriptor(f *testing.F) {
	f.Add([]byte{9, 2, 25, 0, 1, 1, 0, 0x80, 50, 9, 4, 0, 0, 1, 3, 1, 1, 0, 7, 5, 0x81, 3, 8, 0, 7})
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseConfigDescriptor(b)
		var info DeviceInfo
		ParseDeviceDescriptor(b, &info)
		decodeStringDescriptor(b)
	})
}

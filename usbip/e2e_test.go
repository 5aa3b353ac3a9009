package usbip_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gonaut/gonaut/usbip"
	"github.com/gonaut/gonaut/usbip/sim"
)

func TestListAndDescriptors(t *testing.T) {
	srv := startServer(t, nil, sim.NewKeyboard("KBD-1"), sim.NewSerial("ACM-1"), sim.NewStorage("MSC-1", 1<<20))
	devs := list(t, srv.addr)
	want := []struct {
		busID   string
		product uint16
		class   uint8
		ifaces  [][3]uint8
	}{
		{"1-1", 0x0001, 0, [][3]uint8{{3, 1, 1}}},
		{"1-2", 0x0002, 2, [][3]uint8{{2, 2, 1}, {0x0a, 0, 0}}},
		{"1-3", 0x0003, 0, [][3]uint8{{8, 6, 0x50}}},
	}
	if len(devs) != len(want) {
		t.Fatalf("got %d devices, want %d", len(devs), len(want))
	}
	for i, w := range want {
		d := devs[i]
		if d.BusID != w.busID || d.Vendor != 0x1209 || d.Product != w.product || d.Class != w.class || d.Speed != usbip.SpeedHigh {
			t.Errorf("device %d: %+v", i, d)
		}
		if int(d.NumInterfaces) != len(w.ifaces) || len(d.Interfaces) != len(w.ifaces) {
			t.Fatalf("device %s: %d interfaces, want %d", d.BusID, d.NumInterfaces, len(w.ifaces))
		}
		for j, it := range d.Interfaces {
			if [3]uint8{it.Class, it.SubClass, it.Protocol} != w.ifaces[j] {
				t.Errorf("device %s interface %d: %d/%d/%d", d.BusID, j, it.Class, it.SubClass, it.Protocol)
			}
		}
	}
	// Import reads the descriptors: serial and endpoints come through.
	d := importDev(t, srv.addr, "1-3")
	info := d.Info()
	if info.Serial != "MSC-1" {
		t.Errorf("serial %q", info.Serial)
	}
	if ep, ok := info.Endpoint(sim.StorageInEndpoint); !ok || ep.Type != usbip.TransferBulk || ep.MaxPacketSize != 512 {
		t.Errorf("endpoint 0x81: %+v %v", ep, ok)
	}
	if d.Exported().BusID != "1-3" || d.Exported().DevID() != 1<<16|3 {
		t.Errorf("exported %+v", d.Exported())
	}
}

func TestKeyboardReports(t *testing.T) {
	kbd := sim.NewKeyboard("KBD-1")
	srv := startServer(t, nil, kbd)
	d := importDev(t, srv.addr, "1-1")
	ctx := testCtx(t)
	setConfig(t, d, 1)
	// HID report descriptor through the interface-recipient GET_DESCRIPTOR.
	rd := make([]byte, 256)
	n, err := d.Control(ctx, usbip.Setup{RequestType: 0x81, Request: usbip.RequestGetDescriptor, Value: 0x2200, Length: 256}, rd)
	if err != nil || n != 63 || rd[0] != 0x05 || rd[n-1] != 0xc0 {
		t.Fatalf("report descriptor: n=%d err=%v", n, err)
	}
	// SET_REPORT carries the LED state to the device.
	if _, err := d.Control(ctx, usbip.Setup{RequestType: 0x21, Request: 0x09, Value: 0x0200, Length: 1}, []byte{0x02}); err != nil {
		t.Fatal(err)
	}
	if kbd.LEDs() != 0x02 {
		t.Errorf("LEDs %#x after SET_REPORT", kbd.LEDs())
	}
	const text = "Hello 123!\n"
	go kbd.Type(ctx, text)
	var got []rune
	for len(got) < len(text) {
		var r [8]byte
		n, err := d.Transfer(ctx, sim.KeyboardEndpoint, r[:])
		if err != nil || n != 8 {
			t.Fatalf("interrupt IN: n=%d err=%v", n, err)
		}
		if r == ([8]byte{}) {
			continue // key release
		}
		ch, ok := sim.CharFor(r)
		if !ok {
			t.Fatalf("undecodable report % x", r)
		}
		got = append(got, ch)
	}
	if string(got) != text {
		t.Errorf("typed %q, got %q", text, string(got))
	}
}

func TestSerialLoopbackAllBytes(t *testing.T) {
	acm := sim.NewSerial("ACM-1")
	srv := startServer(t, nil, acm)
	d := importDev(t, srv.addr, "1-1")
	ctx := testCtx(t)
	setConfig(t, d, 1)

	lc := []byte{0, 0xc2, 0x01, 0x00, 0, 0, 8} // 115200 8N1
	if _, err := d.Control(ctx, usbip.Setup{RequestType: 0x21, Request: 0x20, Length: 7}, lc); err != nil {
		t.Fatal(err)
	}
	if got := acm.LineCoding(); got.Baud != 115200 || got.DataBits != 8 {
		t.Errorf("line coding %+v", got)
	}
	back := make([]byte, 7)
	if n, err := d.Control(ctx, usbip.Setup{RequestType: 0xa1, Request: 0x21, Length: 7}, back); err != nil || n != 7 || !bytes.Equal(back, lc) {
		t.Errorf("GET_LINE_CODING % x n=%d err=%v", back, n, err)
	}
	if _, err := d.Control(ctx, usbip.Setup{RequestType: 0x21, Request: 0x22, Value: 3}, nil); err != nil || acm.ControlLines() != 3 {
		t.Errorf("SET_CONTROL_LINE_STATE: %v lines=%d", err, acm.ControlLines())
	}

	// Every byte value, many times over, more than the device buffers, with
	// writer and reader running concurrently.
	msg := make([]byte, 256*1024)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	var werr error
	go func() {
		defer wg.Done()
		for off := 0; off < len(msg); off += 4096 {
			if _, werr = d.Transfer(ctx, sim.SerialOutEndpoint, msg[off:off+4096]); werr != nil {
				return
			}
		}
	}()
	got := make([]byte, 0, len(msg))
	buf := make([]byte, 16384)
	for len(got) < len(msg) {
		n, err := d.Transfer(ctx, sim.SerialInEndpoint, buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	wg.Wait()
	if werr != nil {
		t.Fatal(werr)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("loopback altered the bytes")
	}
}

func TestStorageWriteReadBack(t *testing.T) {
	const size = 4 << 20
	msc := sim.NewStorage("MSC-1", size)
	srv := startServer(t, nil, msc)
	d := importDev(t, srv.addr, "1-1")
	ctx := testCtx(t)
	setConfig(t, d, 1)
	b := &bot{d: d}

	inq := make([]byte, 36)
	if n, st, err := b.do(ctx, []byte{0x12, 0, 0, 0, 36, 0}, inq, true); err != nil || st != 0 || n != 36 || !bytes.Contains(inq, []byte("Simulated Disk")) {
		t.Fatalf("INQUIRY n=%d st=%d err=%v %q", n, st, err, inq)
	}
	capb := make([]byte, 8)
	if _, st, err := b.do(ctx, []byte{0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, capb, true); err != nil || st != 0 {
		t.Fatalf("READ CAPACITY st=%d err=%v", st, err)
	}
	if last, bs := binary.BigEndian.Uint32(capb), binary.BigEndian.Uint32(capb[4:]); last != size/512-1 || bs != 512 {
		t.Errorf("capacity last=%d bs=%d", last, bs)
	}

	data := make([]byte, size)
	rand.Read(data)
	const chunk = 64 << 10
	for off := 0; off < size; off += chunk {
		if _, st, err := b.do(ctx, rw10(0x2a, uint32(off/512), chunk/512), data[off:off+chunk], false); err != nil || st != 0 {
			t.Fatalf("WRITE at %d: st=%d err=%v", off, st, err)
		}
	}
	// Read back with several commands pipelined.
	got := make([]byte, size)
	var pend []*pendingCmd
	for off := 0; off < size; off += chunk {
		p, err := b.start(ctx, rw10(0x28, uint32(off/512), chunk/512), got[off:off+chunk], true)
		if err != nil {
			t.Fatal(err)
		}
		pend = append(pend, p)
	}
	for _, p := range pend {
		if n, st, err := p.wait(); err != nil || st != 0 || n != chunk {
			t.Fatalf("READ: n=%d st=%d err=%v", n, st, err)
		}
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatal("read-back checksum differs")
	}
	// Out-of-range read: CHECK CONDITION, then sense says ILLEGAL REQUEST.
	if _, st, err := b.do(ctx, rw10(0x28, size/512, 1), make([]byte, 512), true); err != nil || st != 1 {
		t.Fatalf("out-of-range READ st=%d err=%v", st, err)
	}
	sense := make([]byte, 18)
	if _, st, err := b.do(ctx, []byte{0x03, 0, 0, 0, 18, 0}, sense, true); err != nil || st != 0 || sense[2] != 0x05 || sense[12] != 0x21 {
		t.Fatalf("REQUEST SENSE st=%d err=%v % x", st, err, sense)
	}
}

func TestUnlinkPendingIn(t *testing.T) {
	kbd := sim.NewKeyboard("KBD-1")
	srv := startServer(t, nil, kbd)
	d := importDev(t, srv.addr, "1-1")
	ctx := testCtx(t)

	// A pending interrupt IN does not block a control transfer.
	uctx, cancel := context.WithCancel(ctx)
	r, err := d.Submit(uctx, sim.KeyboardEndpoint, make([]byte, 8))
	if err != nil {
		t.Fatal(err)
	}
	setConfig(t, d, 1)
	select {
	case <-r.Done():
		t.Fatal("interrupt IN completed without a report")
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	n, err := r.Wait()
	if !errors.Is(err, usbip.ErrUnlinked) || !errors.Is(err, context.Canceled) || n != 0 {
		t.Fatalf("unlinked IN: n=%d err=%v", n, err)
	}
	// The unlinked URB consumed nothing: the next report reaches the next URB.
	if err := kbd.Type(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	var rep [8]byte
	if n, err := d.Transfer(ctx, sim.KeyboardEndpoint, rep[:]); err != nil || n != 8 || rep[2] != 4 {
		t.Fatalf("after unlink: n=%d err=%v % x", n, err, rep)
	}
}

func TestStall(t *testing.T) {
	acm := sim.NewSerial("ACM-1")
	srv := startServer(t, nil, acm)
	d := importDev(t, srv.addr, "1-1")
	ctx := testCtx(t)
	setConfig(t, d, 1)

	_, err := d.Control(ctx, usbip.Setup{RequestType: 0xc0, Request: 0x42, Length: 4}, make([]byte, 4))
	var errno usbip.Errno
	if !errors.Is(err, usbip.ErrStall) || !errors.As(err, &errno) || errno != -32 {
		t.Fatalf("unknown vendor request: %v", err)
	}
	halt := usbip.Setup{RequestType: usbip.RecipientEndpoint, Request: usbip.RequestSetFeature, Index: sim.SerialOutEndpoint}
	if _, err := d.Control(ctx, halt, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Transfer(ctx, sim.SerialOutEndpoint, []byte("x")); !errors.Is(err, usbip.ErrStall) {
		t.Fatalf("halted endpoint: %v", err)
	}
	halt.Request = usbip.RequestClearFeature
	if _, err := d.Control(ctx, halt, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := d.Transfer(ctx, sim.SerialOutEndpoint, []byte("x")); err != nil || n != 1 {
		t.Fatalf("after CLEAR_FEATURE: n=%d err=%v", n, err)
	}
}

// waitImportable retries an import until the server has released the
// device of a previous importer.
func waitImportable(t *testing.T, addr, busID string) *usbip.RemoteDevice {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := usbip.Import(testCtx(t), dial(t, addr), busID, nil)
		if err == nil {
			t.Cleanup(func() { d.Close() })
			return d
		}
		if !errors.Is(err, usbip.ErrBusy) || time.Now().After(deadline) {
			t.Fatalf("re-import: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBusyAndDisconnectMidTransfer(t *testing.T) {
	msc := sim.NewStorage("MSC-1", 1<<20)
	srv := startServer(t, nil, msc)
	d := importDev(t, srv.addr, "1-1")
	ctx := testCtx(t)
	setConfig(t, d, 1)

	if _, err := usbip.Import(ctx, dial(t, srv.addr), "1-1", nil); !errors.Is(err, usbip.ErrBusy) {
		t.Fatalf("second import: %v", err)
	}
	// Start a write whose data stage never finishes, then drop the
	// connection in the middle of it.
	b := &bot{d: d}
	p, err := b.start(ctx, rw10(0x2a, 0, 64), make([]byte, 64*512), false)
	if err != nil {
		t.Fatal(err)
	}
	hang, err := d.Submit(ctx, sim.StorageInEndpoint, make([]byte, 512))
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if _, err := hang.Wait(); !errors.Is(err, usbip.ErrClosed) {
		t.Fatalf("pending URB after Close: %v", err)
	}
	p.wait()
	// The device is released and reset: a new importer gets a working disk.
	d2 := waitImportable(t, srv.addr, "1-1")
	setConfig(t, d2, 1)
	b2 := &bot{d: d2}
	if _, st, err := b2.do(ctx, []byte{0, 0, 0, 0, 0, 0}, nil, false); err != nil || st != 0 {
		t.Fatalf("TEST UNIT READY after re-import: st=%d err=%v", st, err)
	}
}

func TestHotPlug(t *testing.T) {
	srv := startServer(t, nil)
	if got := list(t, srv.addr); len(got) != 0 {
		t.Fatalf("empty server lists %d", len(got))
	}
	id, err := srv.Add("3-7", sim.NewKeyboard("K"))
	if err != nil || id != "3-7" {
		t.Fatal(id, err)
	}
	if _, err := srv.Add("3-7", sim.NewKeyboard("K2")); !errors.Is(err, usbip.ErrExists) {
		t.Fatalf("duplicate bus id: %v", err)
	}
	devs := list(t, srv.addr)
	if len(devs) != 1 || devs[0].BusID != "3-7" || devs[0].BusNum != 3 {
		t.Fatalf("after add: %+v", devs)
	}
	d := importDev(t, srv.addr, "3-7")
	ctx := testCtx(t)
	r, err := d.Submit(ctx, sim.KeyboardEndpoint, make([]byte, 8))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Remove("3-7"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wait(); !errors.Is(err, usbip.ErrClosed) {
		t.Fatalf("pending URB after unplug: %v", err)
	}
	if got := list(t, srv.addr); len(got) != 0 {
		t.Fatalf("after remove lists %+v", got)
	}
	if _, err := usbip.Import(ctx, dial(t, srv.addr), "3-7", nil); !errors.Is(err, usbip.ErrNotFound) {
		t.Fatalf("import of removed device: %v", err)
	}
	if err := srv.Remove("3-7"); !errors.Is(err, usbip.ErrNotFound) {
		t.Fatalf("second remove: %v", err)
	}
}

func TestConcurrentEndpoints(t *testing.T) {
	// URBs on different endpoints complete out of order: a later bulk
	// transfer finishes while an earlier interrupt IN stays pending.
	acm := sim.NewSerial("ACM-1")
	srv := startServer(t, nil, acm)
	d := importDev(t, srv.addr, "1-1")
	ctx := testCtx(t)
	setConfig(t, d, 1)
	notify, err := d.Submit(ctx, sim.SerialNotifyEndpoint, make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	in, err := d.Submit(ctx, sim.SerialInEndpoint, make([]byte, 64))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Transfer(ctx, sim.SerialOutEndpoint, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if n, err := in.Wait(); err != nil || n != 4 {
		t.Fatalf("bulk IN: n=%d err=%v", n, err)
	}
	select {
	case <-notify.Done():
		t.Fatal("notification URB completed")
	default:
	}
}

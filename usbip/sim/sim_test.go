package sim_test

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gonaut/gonaut/usbip"
	"github.com/gonaut/gonaut/usbip/sim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Every device's descriptors parse and describe what its endpoints serve.
func TestDescriptors(t *testing.T) {
	ctx := context.Background()
	for _, d := range []usbip.Device{sim.NewKeyboard("K"), sim.NewSerial("S"), sim.NewStorage("M", 4096)} {
		info := d.Info()
		dd := make([]byte, 18)
		if n, err := d.Control(ctx, usbip.Setup{RequestType: 0x80, Request: 6, Value: 0x100, Length: 18}, dd); err != nil || n != 18 {
			t.Fatalf("device descriptor: %d %v", n, err)
		}
		var got usbip.DeviceInfo
		if err := usbip.ParseDeviceDescriptor(dd, &got); err != nil || got.Vendor != 0x1209 || got.Product != info.Product {
			t.Errorf("device descriptor %+v %v", got, err)
		}
		cfg := make([]byte, 255)
		n, err := d.Control(ctx, usbip.Setup{RequestType: 0x80, Request: 6, Value: 0x200, Length: 255}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		v, ifs, err := usbip.ParseConfigDescriptor(cfg[:n])
		if err != nil || v != 1 || len(ifs) != len(info.Interfaces) || int(cfg[4]) != len(ifs) {
			t.Errorf("config: v=%d %d interfaces err=%v", v, len(ifs), err)
		}
		if info.ConfigurationValue != 0 {
			t.Errorf("configured before SET_CONFIGURATION")
		}
		if _, err := d.Control(ctx, usbip.Setup{Request: usbip.RequestSetConfiguration, Value: 1}, nil); err != nil || d.Info().ConfigurationValue != 1 {
			t.Errorf("SET_CONFIGURATION: %v", err)
		}
		if _, err := d.Control(ctx, usbip.Setup{Request: usbip.RequestSetConfiguration, Value: 9}, nil); !errors.Is(err, usbip.ErrStall) {
			t.Errorf("SET_CONFIGURATION 9: %v", err)
		}
		d.Reset(ctx)
		if d.Info().ConfigurationValue != 0 {
			t.Errorf("still configured after reset")
		}
		d.Close()
		if _, err := d.Control(ctx, usbip.Setup{RequestType: 0x80, Request: 6, Value: 0x100, Length: 18}, dd); !errors.Is(err, usbip.ErrNoDevice) {
			t.Errorf("after Close: %v", err)
		}
	}
}

func TestKeyFor(t *testing.T) {
	for _, ch := range "azAZ09 .-!\n" {
		mod, code, ok := sim.KeyFor(ch)
		if !ok {
			t.Fatalf("%q has no key", ch)
		}
		if got, ok := sim.CharFor([8]byte{mod, 0, code}); !ok || got != ch {
			t.Errorf("%q round-trips to %q", ch, got)
		}
	}
	if err := sim.NewKeyboard("K").Type(context.Background(), "é"); err == nil {
		t.Error("typed a character without a key")
	}
}

// A pending read returns when its context ends, leaving queued data alone.
func TestKeyboardPendingRead(t *testing.T) {
	k := sim.NewKeyboard("K")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := k.Transfer(ctx, sim.KeyboardEndpoint, make([]byte, 8)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("pending read: %v", err)
	}
	if _, err := k.Transfer(context.Background(), 0x82, make([]byte, 8)); !errors.Is(err, usbip.ErrStall) {
		t.Errorf("unknown endpoint: %v", err)
	}
}

// The bulk-only transport holds a second CBW until the first command's
// status has been read, so queued commands run in order.
func TestStorageHoldsCBW(t *testing.T) {
	m := sim.NewStorage("M", 1<<16)
	ctx := context.Background()
	cbw := func(tag uint32, cb ...byte) []byte {
		b := make([]byte, 31)
		binary.LittleEndian.PutUint32(b, 0x43425355)
		binary.LittleEndian.PutUint32(b[4:], tag)
		b[14] = byte(len(cb))
		copy(b[15:], cb)
		return b
	}
	if _, err := m.Transfer(ctx, sim.StorageOutEndpoint, cbw(1, 0)); err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() {
		_, err := m.Transfer(ctx, sim.StorageOutEndpoint, cbw(2, 0))
		second <- err
	}()
	select {
	case err := <-second:
		t.Fatalf("second CBW accepted before the first CSW: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	csw := make([]byte, 13)
	if n, err := m.Transfer(ctx, sim.StorageInEndpoint, csw); err != nil || n != 13 || binary.LittleEndian.Uint32(csw[4:]) != 1 {
		t.Fatalf("first CSW: %d %v % x", n, err, csw)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if _, err := m.Transfer(ctx, sim.StorageInEndpoint, csw); err != nil || binary.LittleEndian.Uint32(csw[4:]) != 2 {
		t.Fatalf("second CSW: %v % x", err, csw)
	}
	if _, err := m.Transfer(ctx, sim.StorageOutEndpoint, []byte("not a cbw")); !errors.Is(err, usbip.ErrStall) {
		t.Errorf("invalid CBW: %v", err)
	}
}

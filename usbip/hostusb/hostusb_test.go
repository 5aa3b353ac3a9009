//go:build gousb

package hostusb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/google/gousb"

	"github.com/gonaut/gonaut/usbip"
)

func TestMapError(t *testing.T) {
	tests := []struct {
		in   error
		want usbip.Errno
	}{
		{gousb.TransferStall, usbip.StatusStall},
		{gousb.ErrorPipe, usbip.StatusStall},
		{gousb.TransferCancelled, usbip.StatusConnReset},
		{fmt.Errorf("read: %w", context.Canceled), usbip.StatusConnReset},
		{gousb.TransferNoDevice, usbip.StatusNoDevice},
		{gousb.ErrorNoDevice, usbip.StatusNoDevice},
		{gousb.TransferTimedOut, usbip.StatusTimedOut},
		{gousb.ErrorOverflow, usbip.StatusOverflow},
		{gousb.ErrorIO, usbip.StatusProto},
	}
	for _, tt := range tests {
		got := usbip.StatusOf(mapError(tt.in))
		if got != tt.want {
			t.Errorf("%v: status %d, want %d", tt.in, got, tt.want)
		}
	}
	if mapError(nil) != nil {
		t.Error("nil error mapped")
	}
	if !errors.Is(mapError(gousb.TransferStall), usbip.ErrStall) {
		t.Error("stall does not match ErrStall")
	}
}

// TestOpenHardware adapts the USB devices of the machine, if any; set
// HOSTUSB_VIDPID=vvvv:pppp to pick one.
func TestOpenHardware(t *testing.T) {
	if _, err := os.Stat("/sys/bus/usb/devices"); err != nil {
		t.Skip("no USB support in this kernel (no /sys/bus/usb): hardware cannot be tested here")
	}
	want := os.Getenv("HOSTUSB_VIDPID")
	if want == "" {
		t.Skip("set HOSTUSB_VIDPID=vvvv:pppp to test against a real device")
	}
	c := gousb.NewContext()
	defer c.Close()
	devs, err := OpenAll(c, func(d *gousb.DeviceDesc) bool {
		return fmt.Sprintf("%s:%s", d.Vendor, d.Product) == want
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) == 0 {
		t.Skipf("no device %s attached", want)
	}
	for _, d := range devs {
		info := d.Info()
		if fmt.Sprintf("%04x:%04x", info.Vendor, info.Product) != want {
			t.Errorf("info %+v", info)
		}
		buf := make([]byte, 18)
		if n, err := d.Control(context.Background(), usbip.Setup{RequestType: 0x80, Request: 6, Value: 0x100, Length: 18}, buf); err != nil || n != 18 {
			t.Errorf("GET_DESCRIPTOR: %d %v", n, err)
		}
		d.Close()
	}
}

// Package hostusb exports real USB hardware over USB/IP: it adapts a
// device opened with github.com/google/gousb (libusb) to usbip.Device.
//
// The adapter needs cgo and libusb-1.0, so it is compiled only with the
// build tag gousb:
//
//	go build -tags gousb ./...
//
// Without the tag this package is empty, and the rest of the module builds
// with CGO_ENABLED=0.
//
// # Use
//
//	uctx := gousb.NewContext()
//	defer uctx.Close()
//	devs, err := hostusb.OpenAll(uctx, func(d *gousb.DeviceDesc) bool {
//		return d.Vendor == 0x0483 && d.Product == 0x3748 // an ST-LINK
//	}, nil)
//	for _, d := range devs {
//		srv.Add(d.BusID(), d)
//	}
//
// # What it does, like the kernel's usbip-host stub
//
//   - Detaches kernel drivers (libusb auto-detach) and claims every
//     interface of the active configuration, so the importer owns the
//     whole device.
//   - SET_CONFIGURATION releases the interfaces, switches configuration
//     and claims the new configuration's interfaces; SET_INTERFACE
//     re-claims the interface with the requested alternate setting; a
//     port reset (and the release after an importer leaves) resets the
//     device through libusb and re-claims.
//   - CLEAR_FEATURE(ENDPOINT_HALT) is sent to the device as a control
//     request. gousb v1.1.3 does not expose libusb_clear_halt, so the
//     host controller's data toggle is not reset with it; devices that
//     rely on that may need a port reset instead.
//   - libusb errors become the Linux URB statuses USB/IP carries: a stall
//     −32 (EPIPE), a cancellation −104 (ECONNRESET), a vanished device −19
//     (ENODEV), a timeout −110, an overflow −75, anything else −71
//     (EPROTO).
//   - Isochronous transfers go through gousb's endpoint reads and writes,
//     which hide per-packet status: packets are filled in order and marked
//     complete. Audio and video class devices work best with Linux's
//     kernel stub instead.
//
// Hardware cannot be tested on machines without USB; the package's tests
// skip there and say so.
package hostusb

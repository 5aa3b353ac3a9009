//go:build gousb

package hostusb

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/google/gousb"

	"github.com/gonaut/gonaut/usbip"
)

// Options configures OpenAll and New. A nil *Options is the zero value.
type Options struct {
	// NoDetach leaves kernel drivers attached; claiming interfaces then
	// fails for devices the host is using. Default: false (detach).
	NoDetach bool
}

// Device is one real USB device exported through libusb. It is safe for
// concurrent use: transfers on different endpoints run in parallel.
type Device struct {
	dev *gousb.Device

	mu     sync.Mutex // guards the fields below
	cfg    *gousb.Config
	ifaces map[int]*gousb.Interface
	in     map[uint8]*gousb.InEndpoint
	out    map[uint8]*gousb.OutEndpoint
	info   usbip.DeviceInfo
	closed bool
}

var _ usbip.Device = (*Device)(nil)

// OpenAll opens every device match accepts and adapts it. Devices that
// fail to adapt are closed and their errors joined.
func OpenAll(c *gousb.Context, match func(*gousb.DeviceDesc) bool, opts *Options) ([]*Device, error) {
	devs, err := c.OpenDevices(match)
	var out []*Device
	errs := []error{}
	if err != nil {
		errs = append(errs, fmt.Errorf("hostusb: open: %w", err))
	}
	for _, d := range devs {
		hd, err := New(d, opts)
		if err != nil {
			d.Close()
			errs = append(errs, err)
			continue
		}
		out = append(out, hd)
	}
	return out, errors.Join(errs...)
}

// New adapts an opened device: it detaches kernel drivers and claims
// every interface of the active configuration. The Device owns d.
func New(d *gousb.Device, opts *Options) (*Device, error) {
	if opts == nil || !opts.NoDetach {
		if err := d.SetAutoDetach(true); err != nil {
			return nil, fmt.Errorf("hostusb: %s: auto-detach: %w", d, err)
		}
	}
	h := &Device{dev: d}
	num, err := d.ActiveConfigNum()
	if err != nil {
		return nil, fmt.Errorf("hostusb: %s: active configuration: %w", d, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.info = baseInfo(d)
	if serial, err := d.SerialNumber(); err == nil {
		h.info.Serial = serial
	}
	if err := h.claimLocked(num); err != nil {
		return nil, err
	}
	return h, nil
}

// BusID names the device the way Linux does: "bus-port.port...".
func (h *Device) BusID() string {
	d := h.dev.Desc
	id := fmt.Sprint(d.Bus, "-")
	for i, p := range d.Path {
		if i > 0 {
			id += "."
		}
		id += fmt.Sprint(p)
	}
	if len(d.Path) == 0 {
		id += fmt.Sprint(d.Port)
	}
	return id
}

func baseInfo(d *gousb.Device) usbip.DeviceInfo {
	desc := d.Desc
	return usbip.DeviceInfo{
		Speed:             speedOf(desc.Speed),
		Vendor:            uint16(desc.Vendor),
		Product:           uint16(desc.Product),
		BCDDevice:         uint16(desc.Device),
		Class:             uint8(desc.Class),
		SubClass:          uint8(desc.SubClass),
		Protocol:          uint8(desc.Protocol),
		NumConfigurations: uint8(len(desc.Configs)),
	}
}

func speedOf(s gousb.Speed) usbip.Speed {
	switch s {
	case gousb.SpeedLow:
		return usbip.SpeedLow
	case gousb.SpeedFull:
		return usbip.SpeedFull
	case gousb.SpeedHigh:
		return usbip.SpeedHigh
	case gousb.SpeedSuper:
		return usbip.SpeedSuper
	}
	return usbip.SpeedUnknown
}

// releaseLocked releases every interface and the configuration.
func (h *Device) releaseLocked() {
	for _, it := range h.ifaces {
		it.Close()
	}
	h.ifaces, h.in, h.out = nil, nil, nil
	if h.cfg != nil {
		h.cfg.Close()
		h.cfg = nil
	}
	h.info.ConfigurationValue = 0
	h.info.Interfaces = nil
}

// claimLocked selects configuration num and claims all its interfaces at
// alternate setting 0. num 0 leaves the device unconfigured.
func (h *Device) claimLocked(num int) error {
	h.releaseLocked()
	if num == 0 {
		return nil
	}
	cfg, err := h.dev.Config(num)
	if err != nil {
		return fmt.Errorf("hostusb: %s: configuration %d: %w", h.dev, num, err)
	}
	h.cfg = cfg
	h.ifaces = map[int]*gousb.Interface{}
	h.in = map[uint8]*gousb.InEndpoint{}
	h.out = map[uint8]*gousb.OutEndpoint{}
	h.info.ConfigurationValue = uint8(num)
	for _, idesc := range cfg.Desc.Interfaces {
		if err := h.claimInterfaceLocked(idesc.Number, 0); err != nil {
			h.releaseLocked()
			return err
		}
	}
	h.info.Interfaces = interfacesOf(cfg.Desc)
	return nil
}

func (h *Device) claimInterfaceLocked(num, alt int) error {
	if old, ok := h.ifaces[num]; ok {
		old.Close()
		delete(h.ifaces, num)
	}
	it, err := h.cfg.Interface(num, alt)
	if err != nil {
		return fmt.Errorf("hostusb: %s: claim interface %d alt %d: %w", h.dev, num, alt, err)
	}
	h.ifaces[num] = it
	for addr, ep := range it.Setting.Endpoints {
		a := uint8(addr)
		if ep.Direction == gousb.EndpointDirectionIn {
			if e, err := it.InEndpoint(ep.Number); err == nil {
				h.in[a] = e
			}
		} else if e, err := it.OutEndpoint(ep.Number); err == nil {
			h.out[a] = e
		}
	}
	return nil
}

// interfacesOf lists a configuration's interfaces with the union of their
// alternate settings' endpoints.
func interfacesOf(c gousb.ConfigDesc) []usbip.Interface {
	var out []usbip.Interface
	for _, it := range c.Interfaces {
		if len(it.AltSettings) == 0 {
			continue
		}
		a0 := it.AltSettings[0]
		ui := usbip.Interface{Number: uint8(it.Number), Class: uint8(a0.Class), SubClass: uint8(a0.SubClass), Protocol: uint8(a0.Protocol)}
		seen := map[uint8]bool{}
		for _, alt := range it.AltSettings {
			for addr, ep := range alt.Endpoints {
				if seen[uint8(addr)] {
					continue
				}
				seen[uint8(addr)] = true
				ui.Endpoints = append(ui.Endpoints, usbip.Endpoint{
					Address:       uint8(addr),
					Type:          usbip.TransferType(ep.TransferType),
					MaxPacketSize: uint16(ep.MaxPacketSize),
				})
			}
		}
		out = append(out, ui)
	}
	return out
}

// Info describes the device and its active configuration.
func (h *Device) Info() usbip.DeviceInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.info
}

// Control performs a control transfer, mapping SET_CONFIGURATION and
// SET_INTERFACE to libusb's configuration and claiming calls as the
// kernel's stub driver maps them to the USB core's.
func (h *Device) Control(ctx context.Context, s usbip.Setup, data []byte) (int, error) {
	if s.RequestType&0x60 == usbip.RequestTypeStandard {
		switch {
		case s.Request == usbip.RequestSetConfiguration && s.RequestType&0x1f == usbip.RecipientDevice:
			h.mu.Lock()
			defer h.mu.Unlock()
			if err := h.claimLocked(int(s.Value)); err != nil {
				return 0, fmt.Errorf("%w: %w", usbip.StatusInvalid, err)
			}
			return 0, nil
		case s.Request == usbip.RequestSetInterface && s.RequestType&0x1f == usbip.RecipientInterface:
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.cfg == nil {
				return 0, usbip.ErrStall
			}
			if err := h.claimInterfaceLocked(int(s.Index), int(s.Value)); err != nil {
				return 0, fmt.Errorf("%w: %w", usbip.StatusInvalid, err)
			}
			return 0, nil
		}
	}
	n, err := h.dev.Control(s.RequestType, s.Request, s.Value, s.Index, data)
	return n, mapError(err)
}

// Transfer performs a bulk or interrupt transfer; cancelling ctx cancels
// the libusb transfer.
func (h *Device) Transfer(ctx context.Context, ep uint8, data []byte) (int, error) {
	h.mu.Lock()
	in, out := h.in[ep], h.out[ep]
	closed := h.closed
	h.mu.Unlock()
	var n int
	var err error
	switch {
	case closed:
		return 0, usbip.ErrNoDevice
	case in != nil:
		n, err = in.ReadContext(ctx, data)
	case out != nil:
		n, err = out.WriteContext(ctx, data)
	default:
		return 0, usbip.ErrStall
	}
	return n, mapError(err)
}

// Isochronous reads or writes the whole buffer through the endpoint and
// marks the packets complete in order (see the package doc).
func (h *Device) Isochronous(ctx context.Context, ep uint8, data []byte, packets []usbip.IsoPacket) (int, error) {
	n, err := h.Transfer(ctx, ep, data)
	left := n
	for i := range packets {
		p := &packets[i]
		p.ActualLength = uint32(min(left, int(p.Length)))
		left -= int(p.ActualLength)
	}
	return n, err
}

// Reset resets the device's port and claims its configuration again.
func (h *Device) Reset(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	num := int(h.info.ConfigurationValue)
	h.releaseLocked()
	if err := h.dev.Reset(); err != nil {
		return mapError(err)
	}
	if num == 0 {
		if n, err := h.dev.ActiveConfigNum(); err == nil {
			num = n
		}
	}
	return h.claimLocked(num)
}

// Close releases the interfaces and closes the device.
func (h *Device) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	h.releaseLocked()
	return h.dev.Close()
}

// mapError turns libusb errors into the Linux statuses USB/IP carries.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	var ts gousb.TransferStatus
	if errors.As(err, &ts) {
		switch ts {
		case gousb.TransferStall:
			return fmt.Errorf("%w: %w", usbip.StatusStall, err)
		case gousb.TransferCancelled:
			return fmt.Errorf("%w: %w", usbip.StatusConnReset, err)
		case gousb.TransferNoDevice:
			return fmt.Errorf("%w: %w", usbip.StatusNoDevice, err)
		case gousb.TransferTimedOut:
			return fmt.Errorf("%w: %w", usbip.StatusTimedOut, err)
		case gousb.TransferOverflow:
			return fmt.Errorf("%w: %w", usbip.StatusOverflow, err)
		}
		return fmt.Errorf("%w: %w", usbip.StatusProto, err)
	}
	var le gousb.Error
	if errors.As(err, &le) {
		switch le {
		case gousb.ErrorPipe:
			return fmt.Errorf("%w: %w", usbip.StatusStall, err)
		case gousb.ErrorInterrupted:
			return fmt.Errorf("%w: %w", usbip.StatusConnReset, err)
		case gousb.ErrorNoDevice, gousb.ErrorNotFound:
			return fmt.Errorf("%w: %w", usbip.StatusNoDevice, err)
		case gousb.ErrorTimeout:
			return fmt.Errorf("%w: %w", usbip.StatusTimedOut, err)
		case gousb.ErrorOverflow:
			return fmt.Errorf("%w: %w", usbip.StatusOverflow, err)
		case gousb.ErrorInvalidParam:
			return fmt.Errorf("%w: %w", usbip.StatusInvalid, err)
		}
		return fmt.Errorf("%w: %w", usbip.StatusProto, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", usbip.StatusConnReset, err)
	}
	return fmt.Errorf("%w: %w", usbip.StatusProto, err)
}

package usbip

import (
	"context"
	"encoding/binary"
	"fmt"
)

// Device is one USB device as a server exports it and as a client imports
// it. Simulated devices (package usbip/sim), real hardware (package
// usbip/hostusb, build tag gousb) and a RemoteDevice imported from another
// server all implement it, so a device can be re-exported.
//
// The server calls a Device from one goroutine per endpoint: transfers on
// different endpoints run concurrently, transfers on one endpoint run one at
// a time in submission order, as on a real host controller. A transfer
// blocks until it completes or ctx is cancelled (UNLINK, disconnect); on
// cancellation it must return promptly with an error wrapping ctx.Err() or
// ErrUnlinked. A transfer error that is an Errno, or wraps ErrStall,
// ErrNoDevice, ErrTimeout or ErrOverflow, is reported to the client as the
// matching Linux status. A Device must not keep data (or slices of it)
// after the call returns: the server reuses transfer buffers.
type Device interface {
	// Info describes the device: identifiers, class, speed and the
	// interfaces and endpoints of its active configuration. The server
	// calls it when listing, importing and routing transfers; it must be
	// cheap and safe for concurrent use.
	Info() DeviceInfo

	// Control performs a control transfer on endpoint 0. Data is the data
	// stage: filled by an IN request (setup.RequestType&0x80 != 0), sent by
	// an OUT request; its length is the request's wLength. It returns the
	// number of bytes transferred.
	Control(ctx context.Context, setup Setup, data []byte) (int, error)

	// Transfer performs a bulk or interrupt transfer on endpoint ep (an
	// endpoint address: number | 0x80 for IN). An IN transfer fills data
	// and may return fewer bytes (a short packet); an OUT transfer sends
	// all of data.
	Transfer(ctx context.Context, ep uint8, data []byte) (int, error)

	// Isochronous performs an isochronous transfer on endpoint ep. Each
	// packet names its slice of data by Offset and Length; the device sets
	// ActualLength and Status of each packet. It returns the total number
	// of bytes transferred.
	Isochronous(ctx context.Context, ep uint8, data []byte, packets []IsoPacket) (int, error)

	// Reset performs a USB port reset: the device returns to its default,
	// unconfigured state, with its data (a disk's contents) kept.
	Reset(ctx context.Context) error

	// Close releases the device. The server calls it when the device is
	// removed or the server closes.
	Close() error
}

// DeviceInfo describes a device: what OP_REP_DEVLIST carries, plus the
// endpoints the server routes transfers by and the serial number that
// filters match.
type DeviceInfo struct {
	Speed              Speed
	Vendor             uint16 // idVendor
	Product            uint16 // idProduct
	BCDDevice          uint16
	Class              uint8
	SubClass           uint8
	Protocol           uint8
	ConfigurationValue uint8 // active configuration, 0 if unconfigured
	NumConfigurations  uint8
	Interfaces         []Interface // of the active (or first) configuration
	Serial             string      // iSerialNumber's string, if any
}

// Endpoint finds the endpoint with address addr in any interface.
func (d *DeviceInfo) Endpoint(addr uint8) (Endpoint, bool) {
	for _, it := range d.Interfaces {
		for _, e := range it.Endpoints {
			if e.Address == addr {
				return e, true
			}
		}
	}
	return Endpoint{}, false
}

// Interface is one interface of a configuration. Endpoints is the union of
// the endpoints of all its alternate settings.
type Interface struct {
	Number    uint8
	Class     uint8
	SubClass  uint8
	Protocol  uint8
	Endpoints []Endpoint
}

// Endpoint is one endpoint descriptor.
type Endpoint struct {
	Address       uint8 // number | 0x80 for IN
	Type          TransferType
	MaxPacketSize uint16
	Interval      uint8
}

// TransferType is an endpoint's transfer type (bmAttributes & 3).
type TransferType uint8

// Transfer types.
const (
	TransferControl     TransferType = 0
	TransferIsochronous TransferType = 1
	TransferBulk        TransferType = 2
	TransferInterrupt   TransferType = 3
)

func (t TransferType) String() string {
	switch t {
	case TransferControl:
		return "control"
	case TransferIsochronous:
		return "isochronous"
	case TransferBulk:
		return "bulk"
	case TransferInterrupt:
		return "interrupt"
	}
	return fmt.Sprintf("transfer type %d", uint8(t))
}

// Speed is a device speed as Linux's enum usb_device_speed numbers it,
// which is what the USB/IP speed field carries.
type Speed uint32

// Speeds.
const (
	SpeedUnknown   Speed = 0
	SpeedLow       Speed = 1 // 1.5 Mbit/s
	SpeedFull      Speed = 2 // 12 Mbit/s
	SpeedHigh      Speed = 3 // 480 Mbit/s
	SpeedWireless  Speed = 4
	SpeedSuper     Speed = 5 // 5 Gbit/s
	SpeedSuperPlus Speed = 6
)

func (s Speed) String() string {
	switch s {
	case SpeedLow:
		return "low"
	case SpeedFull:
		return "full"
	case SpeedHigh:
		return "high"
	case SpeedWireless:
		return "wireless"
	case SpeedSuper:
		return "super"
	case SpeedSuperPlus:
		return "super-plus"
	}
	return "unknown"
}

// Setup is a USB control request's setup packet. On the wire (USB and
// USB/IP alike) it is 8 bytes, little-endian.
type Setup struct {
	RequestType uint8 // bmRequestType: direction, type, recipient
	Request     uint8 // bRequest
	Value       uint16
	Index       uint16
	Length      uint16 // wLength
}

// In reports whether the request has an IN (device-to-host) data stage.
func (s Setup) In() bool { return s.RequestType&0x80 != 0 }

// Bytes encodes the setup packet.
func (s Setup) Bytes() [8]byte {
	var b [8]byte
	b[0], b[1] = s.RequestType, s.Request
	binary.LittleEndian.PutUint16(b[2:], s.Value)
	binary.LittleEndian.PutUint16(b[4:], s.Index)
	binary.LittleEndian.PutUint16(b[6:], s.Length)
	return b
}

// ParseSetup decodes an 8-byte setup packet.
func ParseSetup(b [8]byte) Setup {
	return Setup{
		RequestType: b[0], Request: b[1],
		Value:  binary.LittleEndian.Uint16(b[2:]),
		Index:  binary.LittleEndian.Uint16(b[4:]),
		Length: binary.LittleEndian.Uint16(b[6:]),
	}
}

// Standard request codes and request-type bits (USB 2.0 §9.4).
const (
	RequestGetStatus        = 0x00
	RequestClearFeature     = 0x01
	RequestSetFeature       = 0x03
	RequestSetAddress       = 0x05
	RequestGetDescriptor    = 0x06
	RequestSetDescriptor    = 0x07
	RequestGetConfiguration = 0x08
	RequestSetConfiguration = 0x09
	RequestGetInterface     = 0x0A
	RequestSetInterface     = 0x0B

	RequestTypeStandard  = 0x00
	RequestTypeClass     = 0x20
	RequestTypeVendor    = 0x40
	RecipientDevice      = 0x00
	RecipientInterface   = 0x01
	RecipientEndpoint    = 0x02
	RecipientOther       = 0x03 // a hub port, for port requests
	FeatureEndpointHalt  = 0
	FeaturePortReset     = 4
	DescriptorDevice     = 0x01
	DescriptorConfig     = 0x02
	DescriptorString     = 0x03
	DescriptorInterface  = 0x04
	DescriptorEndpoint   = 0x05
	DescriptorQualifier  = 0x06
	DescriptorOtherSpeed = 0x07
)

// IsPortReset reports whether s is the hub-class SET_FEATURE(PORT_RESET)
// that the Linux vhci driver sends to reset an imported device; the server
// maps it to Device.Reset, as the kernel's stub driver does.
func (s Setup) IsPortReset() bool {
	return s.RequestType == RequestTypeClass|RecipientOther && s.Request == RequestSetFeature && s.Value == FeaturePortReset
}

// IsoPacket is one packet of an isochronous transfer (struct
// usbip_iso_packet_descriptor).
type IsoPacket struct {
	Offset       uint32
	Length       uint32
	ActualLength uint32
	Status       Errno
}

package usbip

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// Protocol constants (Documentation/usb/usbip_protocol.rst, usbip-utils'
// usbip_network.h, include/uapi/linux/usbip.h). Everything on the wire is
// big-endian except the 8-byte USB setup packet, which is USB's own
// little-endian encoding carried verbatim.
const (
	// Version is the protocol version in operation headers, v1.1.1.
	Version = 0x0111

	opReqDevlist = 0x8005
	opRepDevlist = 0x0005
	opReqImport  = 0x8003
	opRepImport  = 0x0003

	cmdSubmit = 0x00000001
	cmdUnlink = 0x00000002
	retSubmit = 0x00000003
	retUnlink = 0x00000004

	dirOut = 0
	dirIn  = 1

	opHeaderLen     = 8
	busIDLen        = 32
	pathLen         = 256
	deviceRecordLen = 0x138 // struct usbip_usb_device
	headerLen       = 48    // struct usbip_header
	isoDescLen      = 16    // struct usbip_iso_packet_descriptor

	// MaxISOPackets caps number_of_packets, as the kernel's
	// USBIP_MAX_ISO_PACKETS does.
	MaxISOPackets = 1024
	// maxDevlist caps the device count a client accepts in one reply.
	maxDevlist = 4096
)

// ExportedDevice is a device as OP_REP_DEVLIST and OP_REP_IMPORT describe
// it (struct usbip_usb_device).
type ExportedDevice struct {
	Path               string // sysfs-style path on the exporting host
	BusID              string // e.g. "1-1"; what an import names
	BusNum             uint32
	DevNum             uint32
	Speed              Speed
	Vendor             uint16
	Product            uint16
	BCDDevice          uint16
	Class              uint8
	SubClass           uint8
	Protocol           uint8
	ConfigurationValue uint8
	NumConfigurations  uint8
	NumInterfaces      uint8
	// Interfaces lists class, subclass and protocol of each interface;
	// OP_REP_DEVLIST carries them, OP_REP_IMPORT does not (nil).
	Interfaces []Interface
}

// DevID is the device id URB headers carry: busnum<<16 | devnum.
func (d ExportedDevice) DevID() uint32 { return d.BusNum<<16 | d.DevNum&0xffff }

func putOpHeader(b []byte, code uint16, status uint32) {
	binary.BigEndian.PutUint16(b[0:], Version)
	binary.BigEndian.PutUint16(b[2:], code)
	binary.BigEndian.PutUint32(b[4:], status)
}

// readOpHeader reads an operation header and checks the version.
func readOpHeader(r io.Reader) (code uint16, status uint32, err error) {
	var b [opHeaderLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, 0, err
	}
	if v := binary.BigEndian.Uint16(b[0:]); v != Version {
		return 0, 0, protoErr("version %#04x, want %#04x", v, Version)
	}
	return binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint32(b[4:]), nil
}

func putString(b []byte, s string) {
	clear(b)
	copy(b[:len(b)-1], s) // always leave a terminating zero
}

// cString reads a zero-terminated string from a fixed field; a field with
// no terminator is a protocol violation.
func cString(b []byte) (string, error) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return "", protoErr("string field of %d bytes not terminated", len(b))
	}
	return string(b[:i]), nil
}

// appendDeviceRecord appends struct usbip_usb_device and, if withIfaces,
// the interface records of OP_REP_DEVLIST.
func appendDeviceRecord(dst []byte, d *ExportedDevice, withIfaces bool) []byte {
	var b [deviceRecordLen]byte
	putString(b[0:pathLen], d.Path)
	putString(b[pathLen:pathLen+busIDLen], d.BusID)
	o := pathLen + busIDLen
	binary.BigEndian.PutUint32(b[o:], d.BusNum)
	binary.BigEndian.PutUint32(b[o+4:], d.DevNum)
	binary.BigEndian.PutUint32(b[o+8:], uint32(d.Speed))
	binary.BigEndian.PutUint16(b[o+12:], d.Vendor)
	binary.BigEndian.PutUint16(b[o+14:], d.Product)
	binary.BigEndian.PutUint16(b[o+16:], d.BCDDevice)
	b[o+18], b[o+19], b[o+20] = d.Class, d.SubClass, d.Protocol
	b[o+21], b[o+22] = d.ConfigurationValue, d.NumConfigurations
	n := d.NumInterfaces
	if withIfaces {
		n = uint8(min(len(d.Interfaces), 255))
	}
	b[o+23] = n
	dst = append(dst, b[:]...)
	if withIfaces {
		for _, it := range d.Interfaces[:n] {
			dst = append(dst, it.Class, it.SubClass, it.Protocol, 0)
		}
	}
	return dst
}

func parseDeviceRecord(b []byte) (ExportedDevice, error) {
	var d ExportedDevice
	var err error
	if d.Path, err = cString(b[0:pathLen]); err != nil {
		return d, fmt.Errorf("path: %w", err)
	}
	if d.BusID, err = cString(b[pathLen : pathLen+busIDLen]); err != nil {
		return d, fmt.Errorf("busid: %w", err)
	}
	o := pathLen + busIDLen
	d.BusNum = binary.BigEndian.Uint32(b[o:])
	d.DevNum = binary.BigEndian.Uint32(b[o+4:])
	d.Speed = Speed(binary.BigEndian.Uint32(b[o+8:]))
	d.Vendor = binary.BigEndian.Uint16(b[o+12:])
	d.Product = binary.BigEndian.Uint16(b[o+14:])
	d.BCDDevice = binary.BigEndian.Uint16(b[o+16:])
	d.Class, d.SubClass, d.Protocol = b[o+18], b[o+19], b[o+20]
	d.ConfigurationValue, d.NumConfigurations = b[o+21], b[o+22]
	d.NumInterfaces = b[o+23]
	return d, nil
}

// readDevlistReply reads the body of OP_REP_DEVLIST after its header.
func readDevlistReply(r io.Reader) ([]ExportedDevice, error) {
	var nb [4]byte
	if _, err := io.ReadFull(r, nb[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(nb[:])
	if n > maxDevlist {
		return nil, protoErr("devlist of %d devices exceeds %d", n, maxDevlist)
	}
	devs := make([]ExportedDevice, 0, min(n, 64))
	rec := make([]byte, deviceRecordLen)
	for range n {
		if _, err := io.ReadFull(r, rec); err != nil {
			return nil, err
		}
		d, err := parseDeviceRecord(rec)
		if err != nil {
			return nil, err
		}
		ifs := make([]byte, 4*int(d.NumInterfaces))
		if _, err := io.ReadFull(r, ifs); err != nil {
			return nil, err
		}
		d.Interfaces = make([]Interface, d.NumInterfaces)
		for i := range d.Interfaces {
			d.Interfaces[i] = Interface{Number: uint8(i), Class: ifs[4*i], SubClass: ifs[4*i+1], Protocol: ifs[4*i+2]}
		}
		devs = append(devs, d)
	}
	return devs, nil
}

// exportedFromInfo builds the record for a device exported under busID.
func exportedFromInfo(busID string, busNum, devNum uint32, info DeviceInfo) ExportedDevice {
	return ExportedDevice{
		Path:               "/sys/devices/platform/gonaut/usb" + fmt.Sprint(busNum) + "/" + busID,
		BusID:              busID,
		BusNum:             busNum,
		DevNum:             devNum,
		Speed:              info.Speed,
		Vendor:             info.Vendor,
		Product:            info.Product,
		BCDDevice:          info.BCDDevice,
		Class:              info.Class,
		SubClass:           info.SubClass,
		Protocol:           info.Protocol,
		ConfigurationValue: info.ConfigurationValue,
		NumConfigurations:  info.NumConfigurations,
		NumInterfaces:      uint8(min(len(info.Interfaces), 255)),
		Interfaces:         info.Interfaces,
	}
}

package usbip

import "encoding/binary"

// ParseDeviceDescriptor fills the identifying fields of info from an
// 18-byte device descriptor.
func ParseDeviceDescriptor(b []byte, info *DeviceInfo) error {
	if len(b) < 18 || b[0] < 18 || b[1] != DescriptorDevice {
		return protoErr("device descriptor: bad length or type")
	}
	info.Class, info.SubClass, info.Protocol = b[4], b[5], b[6]
	info.Vendor = binary.LittleEndian.Uint16(b[8:])
	info.Product = binary.LittleEndian.Uint16(b[10:])
	info.BCDDevice = binary.LittleEndian.Uint16(b[12:])
	info.NumConfigurations = b[17]
	return nil
}

// ParseConfigDescriptor decodes a full configuration descriptor (the
// configuration header followed by its interface, endpoint and class
// descriptors) into its configuration value and interfaces. Alternate
// settings of one interface merge into one Interface whose Endpoints is the
// union. Class-specific descriptors are skipped. It never panics on bad
// input, which may come from the network.
func ParseConfigDescriptor(b []byte) (value uint8, ifaces []Interface, err error) {
	if len(b) < 9 || b[1] != DescriptorConfig || b[0] < 9 {
		return 0, nil, protoErr("config descriptor: bad header")
	}
	total := int(binary.LittleEndian.Uint16(b[2:]))
	if total < int(b[0]) || total > len(b) {
		return 0, nil, protoErr("config descriptor: wTotalLength %d with %d bytes", total, len(b))
	}
	value = b[5]
	b = b[:total]
	cur := -1
	for off := int(b[0]); off < len(b); {
		l := int(b[off])
		if l < 2 || off+l > len(b) {
			return 0, nil, protoErr("config descriptor: bad descriptor length at %d", off)
		}
		d := b[off : off+l]
		switch d[1] {
		case DescriptorInterface:
			if l < 9 {
				return 0, nil, protoErr("interface descriptor too short")
			}
			cur = -1
			for i := range ifaces {
				if ifaces[i].Number == d[2] {
					cur = i
				}
			}
			if cur < 0 {
				if len(ifaces) >= 32 {
					return 0, nil, protoErr("config descriptor: too many interfaces")
				}
				ifaces = append(ifaces, Interface{Number: d[2], Class: d[5], SubClass: d[6], Protocol: d[7]})
				cur = len(ifaces) - 1
			}
		case DescriptorEndpoint:
			if l < 7 {
				return 0, nil, protoErr("endpoint descriptor too short")
			}
			if cur < 0 {
				return 0, nil, protoErr("endpoint descriptor outside an interface")
			}
			ep := Endpoint{
				Address:       d[2],
				Type:          TransferType(d[3] & 3),
				MaxPacketSize: binary.LittleEndian.Uint16(d[4:]),
				Interval:      d[6],
			}
			dup := false
			for _, e := range ifaces[cur].Endpoints {
				dup = dup || e.Address == ep.Address
			}
			if !dup && len(ifaces[cur].Endpoints) < 32 {
				ifaces[cur].Endpoints = append(ifaces[cur].Endpoints, ep)
			}
		}
		off += l
	}
	return value, ifaces, nil
}

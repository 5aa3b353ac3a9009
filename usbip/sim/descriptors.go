package sim

import (
	"encoding/binary"
	"unicode/utf16"

	"github.com/gonaut/gonaut/usbip"
)

// Test VID:PIDs from pid.codes (1209:0001–000F are reserved for testing),
// so simulated devices never pose as a real product.
const (
	vendorPIDCodes = 0x1209
	productKbd     = 0x0001
	productACM     = 0x0002
	productMSC     = 0x0003
)

func deviceDescriptor(class, sub, proto uint8, vid, pid, bcd uint16, iManu, iProd, iSerial uint8) []byte {
	b := []byte{18, usbip.DescriptorDevice, 0x00, 0x02, class, sub, proto, 64, 0, 0, 0, 0, 0, 0, iManu, iProd, iSerial, 1}
	binary.LittleEndian.PutUint16(b[8:], vid)
	binary.LittleEndian.PutUint16(b[10:], pid)
	binary.LittleEndian.PutUint16(b[12:], bcd)
	return b
}

// qualifierDescriptor is the device qualifier a high-speed device returns.
func qualifierDescriptor(dev []byte) []byte {
	return []byte{10, usbip.DescriptorQualifier, 0x00, 0x02, dev[4], dev[5], dev[6], 64, 1, 0}
}

// configDescriptor assembles a configuration from interface, endpoint and
// class descriptors, filling wTotalLength and bNumInterfaces.
func configDescriptor(value uint8, parts ...[]byte) []byte {
	b := []byte{9, usbip.DescriptorConfig, 0, 0, 0, value, 0, 0x80, 50} // bus powered, 100 mA
	for _, p := range parts {
		if p[1] == usbip.DescriptorInterface && p[3] == 0 {
			b[4]++
		}
		b = append(b, p...)
	}
	binary.LittleEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

func interfaceDescriptor(num, numEP, class, sub, proto uint8) []byte {
	return []byte{9, usbip.DescriptorInterface, num, 0, numEP, class, sub, proto, 0}
}

func endpointDescriptor(addr uint8, typ usbip.TransferType, maxPacket uint16, interval uint8) []byte {
	b := []byte{7, usbip.DescriptorEndpoint, addr, uint8(typ), 0, 0, interval}
	binary.LittleEndian.PutUint16(b[4:], maxPacket)
	return b
}

func stringDescriptor(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2+2*len(u))
	b[0], b[1] = byte(len(b)), usbip.DescriptorString
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2+2*i:], c)
	}
	return b
}

//go:build !linux

package usbip

import (
	"errors"
	"net"
)

// AttachVHCI is only available on Linux; use Import for a userspace
// device on other systems.
func AttachVHCI(conn net.Conn, dev ExportedDevice) (int, error) {
	return 0, errors.New("usbip: vhci attach: only on Linux")
}

//go:build linux

package usbip

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// vdevStatusNull is VDEV_ST_NULL: a free vhci port.
const vdevStatusNull = 4

// AttachVHCI hands an imported connection to the Linux kernel's vhci_hcd
// driver, which then drives the device as a local USB device (what `usbip
// attach` does after the handshake). conn must be a *net.TCPConn on which
// ImportHandshake succeeded for dev. It returns the vhci port used. The
// kernel holds its own reference to the socket; the caller may close conn
// afterwards.
func AttachVHCI(conn net.Conn, dev ExportedDevice) (int, error) {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return 0, fmt.Errorf("usbip: vhci attach: %T is not a TCP connection", conn)
	}
	if _, err := os.Stat(filepath.Join(VHCIPath, "attach")); err != nil {
		return 0, fmt.Errorf("usbip: vhci attach: vhci_hcd not available (modprobe vhci-hcd): %w", err)
	}
	port, err := freeVHCIPort(dev.Speed)
	if err != nil {
		return 0, err
	}
	f, err := tc.File()
	if err != nil {
		return 0, fmt.Errorf("usbip: vhci attach: %w", err)
	}
	defer f.Close()
	line := fmt.Sprintf("%d %d %d %d", port, f.Fd(), dev.DevID(), uint32(dev.Speed))
	if err := os.WriteFile(filepath.Join(VHCIPath, "attach"), []byte(line), 0); err != nil {
		return 0, fmt.Errorf("usbip: vhci attach %q: %w", line, err)
	}
	return port, nil
}

// freeVHCIPort finds a free port of the right hub (super speed devices go
// to the "ss" hub, others to "hs") in the vhci status files.
func freeVHCIPort(speed Speed) (int, error) {
	hub := "hs"
	if speed >= SpeedSuper {
		hub = "ss"
	}
	files, _ := filepath.Glob(filepath.Join(VHCIPath, "status*"))
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 3 || fs[0] != hub {
				continue
			}
			port, err1 := strconv.Atoi(strings.TrimLeft(fs[1], "0") + "0")
			status, err2 := strconv.Atoi(fs[2])
			if err1 == nil && err2 == nil && status == vdevStatusNull {
				f.Close()
				return port / 10, nil
			}
		}
		f.Close()
	}
	return 0, errors.New("usbip: vhci attach: no free vhci port")
}

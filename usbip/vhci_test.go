package usbip_test

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/gonaut/gonaut/usbip"
	"github.com/gonaut/gonaut/usbip/sim"
)

// TestAttachVHCI hands an imported keyboard to the kernel. It needs Linux
// with the vhci-hcd module loaded and root, which these build machines do
// not have (no USB support in the kernel), so it skips there.
func TestAttachVHCI(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("vhci_hcd is Linux only")
	}
	if _, err := os.Stat(filepath.Join(usbip.VHCIPath, "attach")); err != nil {
		t.Skipf("vhci_hcd not loaded (this kernel has no USB/IP client support): %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("writing the vhci attach file needs root")
	}
	srv := startServer(t, nil, sim.NewKeyboard("K"))
	c := dial(t, srv.addr)
	defer c.Close()
	dev, err := usbip.ImportHandshake(testCtx(t), c, "1-1")
	if err != nil {
		t.Fatal(err)
	}
	port, err := usbip.AttachVHCI(c.(*net.TCPConn), dev)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.WriteFile(filepath.Join(usbip.VHCIPath, "detach"), []byte(strconv.Itoa(port)), 0)
	})
}

package usbip

// VHCIPath is where the Linux vhci_hcd driver exposes its sysfs files
// (attach, detach, status); AttachVHCI writes there.
var VHCIPath = "/sys/devices/platform/vhci_hcd.0"

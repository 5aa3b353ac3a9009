// Package usbip implements USB/IP, the protocol the Linux kernel uses to
// forward USB devices over TCP: a server that exports devices and a
// userspace client that imports them.
package usbip

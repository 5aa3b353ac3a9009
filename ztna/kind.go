package ztna

// ResourceKind is the kind of a resource: how the gateway carries its
// flows and which facts policy sees of them. Its YAML and JSON form is
// the plain string (tcp, udp, http, usb, serial), which policy sees as
// resource.kind.
type ResourceKind string

// The resource kinds.
const (
	// KindTCP is a TCP service: each connection is decided and spliced
	// to an upstream.
	KindTCP ResourceKind = "tcp"
	// KindUDP is a UDP service: each flow is decided on its first
	// datagram and relayed until idle.
	KindUDP ResourceKind = "udp"
	// KindHTTP is an HTTP app, proxied at layer 7: each request is
	// decided on its own.
	KindHTTP ResourceKind = "http"
	// KindUSB is a USB/IP server of USB devices: each import is decided.
	KindUSB ResourceKind = "usb"
	// KindSerial is a serial port shared over RFC 2217 or raw TCP: each
	// connection is decided.
	KindSerial ResourceKind = "serial"
)

// defaultPorts are the ports peers connect to when a resource configures
// none; tcp and udp resources must.
var defaultPorts = map[ResourceKind]uint16{KindHTTP: 80, KindUSB: 3240, KindSerial: 2217}

// device reports whether k is a kind whose flows reach a device server
// (USB/IP or serial) rather than an upstream.
func (k ResourceKind) device() bool { return k == KindUSB || k == KindSerial }

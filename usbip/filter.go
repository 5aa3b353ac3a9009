package usbip

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Rule matches devices by bus id, vendor and product id, and serial number.
// Empty or zero fields match anything; a Rule with every field empty
// matches every device.
type Rule struct {
	BusID   string // exact bus id, e.g. "1-2"
	Vendor  uint16 // idVendor; 0 matches any
	Product uint16 // idProduct; 0 matches any
	Serial  string // iSerialNumber string
}

// ParseRule parses the text form config files use: space-separated
// key=value terms, "busid=1-2", "id=1d6b:0104" (product may be "*"),
// "serial=ABC123". An empty string is the rule that matches everything.
func ParseRule(s string) (Rule, error) {
	var r Rule
	for f := range strings.FieldsSeq(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return r, fmt.Errorf("usbip: rule term %q: want key=value", f)
		}
		switch k {
		case "busid":
			r.BusID = v
		case "serial":
			r.Serial = v
		case "id":
			vs, ps, ok := strings.Cut(v, ":")
			vid, err := strconv.ParseUint(vs, 16, 16)
			if err != nil || !ok {
				return r, fmt.Errorf("usbip: rule id %q: want vid:pid in hex", v)
			}
			r.Vendor = uint16(vid)
			if ps != "*" {
				pid, err := strconv.ParseUint(ps, 16, 16)
				if err != nil {
					return r, fmt.Errorf("usbip: rule id %q: want vid:pid in hex", v)
				}
				r.Product = uint16(pid)
			}
		default:
			return r, fmt.Errorf("usbip: rule key %q: want busid, id or serial", k)
		}
	}
	return r, nil
}

// Match reports whether the rule matches the device exported under busID.
func (r Rule) Match(busID string, info *DeviceInfo) bool {
	return (r.BusID == "" || r.BusID == busID) &&
		(r.Vendor == 0 || r.Vendor == info.Vendor) &&
		(r.Product == 0 || r.Product == info.Product) &&
		(r.Serial == "" || r.Serial == info.Serial)
}

// Filter is the static part of a server's access control, from its config:
// a device is visible and importable if it matches some Allow rule (or
// Allow is empty) and no Deny rule. The zero Filter allows everything.
type Filter struct {
	Allow []Rule
	Deny  []Rule
}

// Permits reports whether the filter lets the device through.
func (f *Filter) Permits(busID string, info *DeviceInfo) bool {
	if f == nil {
		return true
	}
	for _, r := range f.Deny {
		if r.Match(busID, info) {
			return false
		}
	}
	if len(f.Allow) == 0 {
		return true
	}
	for _, r := range f.Allow {
		if r.Match(busID, info) {
			return true
		}
	}
	return false
}

// Op is the operation an authorisation decision is for.
type Op int

// Operations.
const (
	// OpList is one device of an OP_REQ_DEVLIST: deny hides it.
	OpList Op = iota + 1
	// OpImport is an OP_REQ_IMPORT: deny refuses it with ST_NA, which
	// the Linux usbip tool prints as "Request Failed".
	OpImport
)

func (o Op) String() string {
	switch o {
	case OpList:
		return "list"
	case OpImport:
		return "import"
	}
	return "op " + strconv.Itoa(int(o))
}

// AuthRequest is what an Authorizer decides on.
type AuthRequest struct {
	Op Op
	// Principal is the identity the connection's context carries
	// (WithPrincipal, on ServeConn's ctx or from ServerOptions.ConnContext
	// for connections accepted by Serve); nil if none.
	Principal any
	// Remote is the connection's remote address.
	Remote net.Addr
	// BusID and Device name the device.
	BusID  string
	Device DeviceInfo
}

// Authorizer decides whether a principal may see (OpList) or import
// (OpImport) a device. A nil error allows; any error denies, and is logged.
// It is called once per device on every DEVLIST and once on every IMPORT,
// after the static Filter, and must be safe for concurrent use.
type Authorizer func(ctx context.Context, req AuthRequest) error

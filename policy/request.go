package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// A Request is everything a decision may look at: who asks (Subject), from
// what (Device) and where (Source), for what (Resource), when (Time), and how
// risky the asker currently looks (Risk). In a condition each part is a
// variable of the same name: subject, device, source, resource, time, risk.
//
// The JSON form uses the field names shown in the json tags, which are also
// the CEL field names; the policy CLI and document tests read it.
//
// A Request is read, never modified, by a decision; it may be reused for the
// next decision once Decide returns.
type Request struct {
	Subject  Subject  `json:"subject"`
	Device   Device   `json:"device"`
	Source   Source   `json:"source"`
	Resource Resource `json:"resource"`
	// Time is when the access happens. The zero time means "now": Decide
	// fills in the current time.
	Time time.Time `json:"time"`
	Risk Risk      `json:"risk"`
}

// Subject is the person or workload behind a request.
type Subject struct {
	// ID is the stable identifier of the subject, e.g. "u-1042".
	ID string `json:"id,omitempty" cel:"id"`
	// Email is the subject's email address.
	Email string `json:"email,omitempty" cel:"email"`
	// Groups the subject belongs to, e.g. ["eng", "oncall"].
	Groups []string `json:"groups,omitempty" cel:"groups"`
	// Roles the subject holds, e.g. ["admin"].
	Roles []string `json:"roles,omitempty" cel:"roles"`
	// MFA is true when the current session was established with a second
	// factor.
	MFA bool `json:"mfa,omitempty" cel:"mfa"`
	// AuthTime is when the subject last authenticated.
	AuthTime time.Time `json:"auth_time,omitzero" cel:"auth_time"`
	// Attributes are free-form facts from the identity provider.
	Attributes map[string]string `json:"attributes,omitempty" cel:"attributes"`
}

// Device is the machine the request comes from and its posture.
type Device struct {
	// ID is the stable identifier of the device.
	ID string `json:"id,omitempty" cel:"id"`
	// OS is the operating system family: "linux", "macos", "windows",
	// "ios", "android", ...
	OS string `json:"os,omitempty" cel:"os"`
	// OSVersion is the operating system version, e.g. "14.4".
	OSVersion string `json:"os_version,omitempty" cel:"os_version"`
	// Managed is true for devices enrolled in device management.
	Managed bool `json:"managed,omitempty" cel:"managed"`
	// DiskEncrypted is true when full-disk encryption is on.
	DiskEncrypted bool `json:"disk_encrypted,omitempty" cel:"disk_encrypted"`
	// Firewall is true when the host firewall is on.
	Firewall bool `json:"firewall,omitempty" cel:"firewall"`
	// ScreenLock is true when a screen lock is configured.
	ScreenLock bool `json:"screen_lock,omitempty" cel:"screen_lock"`
	// ClientVersion is the version of the Gonaut or WireGuard client.
	ClientVersion string `json:"client_version,omitempty" cel:"client_version"`
	// PostureTime is when the posture facts above were collected.
	PostureTime time.Time `json:"posture_time,omitzero" cel:"posture_time"`
	// PostureSource says who asserted the posture facts: "person" when
	// a console user or API key typed them, "device" when the device or
	// a gateway reported them, empty when nobody did. A policy that
	// trusts posture only as measured can deny "person". The console
	// sets it; posture facts cannot claim a source of their own.
	PostureSource string `json:"posture_source,omitempty" cel:"posture_source"`
	// Attributes are free-form posture facts.
	Attributes map[string]string `json:"attributes,omitempty" cel:"attributes"`
}

// Source is where the request comes from on the network.
type Source struct {
	// IP is the source address as text, e.g. "203.0.113.7" or "2001:db8::1".
	// Conditions test it with the network extension:
	// cidr('10.0.0.0/8').containsIP(source.ip) or ip(source.ip).
	IP string `json:"ip,omitempty" cel:"ip"`
	// Country is the ISO 3166-1 alpha-2 code of the source, e.g. "DE".
	Country string `json:"country,omitempty" cel:"country"`
	// ASN is the autonomous system number of the source network.
	ASN int64 `json:"asn,omitempty" cel:"asn"`
}

// Resource is what the request wants to reach. Which fields are set depends
// on Kind.
type Resource struct {
	// Kind is one of "tcp", "udp", "http", "usb" and "serial".
	Kind string `json:"kind,omitempty" cel:"kind"`
	// Name is the resource's name, e.g. "wiki.corp".
	Name string `json:"name,omitempty" cel:"name"`
	// Labels are the resource's labels, e.g. {"env": "prod"}.
	Labels map[string]string `json:"labels,omitempty" cel:"labels"`
	// Address is the destination address as text.
	Address string `json:"address,omitempty" cel:"address"`
	// Port is the destination port.
	Port int64 `json:"port,omitempty" cel:"port"`

	// Method is the HTTP method (http only).
	Method string `json:"method,omitempty" cel:"method"`
	// Path is the HTTP request path (http only).
	Path string `json:"path,omitempty" cel:"path"`
	// Host is the HTTP Host the upstream receives (http only); the
	// gateway sends the resource's name, whatever the client sent.
	Host string `json:"host,omitempty" cel:"host"`
	// Headers are the HTTP request headers with lower-case names, multiple
	// values joined by ", " (http only).
	Headers map[string]string `json:"headers,omitempty" cel:"headers"`

	// VendorID is the USB idVendor (usb only).
	VendorID int64 `json:"vendor_id,omitempty" cel:"vendor_id"`
	// ProductID is the USB idProduct (usb only).
	ProductID int64 `json:"product_id,omitempty" cel:"product_id"`
	// Serial is the USB serial number string (usb only).
	Serial string `json:"serial,omitempty" cel:"serial"`
	// BusID is the USB/IP bus id, e.g. "1-1" (usb only).
	BusID string `json:"bus_id,omitempty" cel:"bus_id"`

	// SerialPort is the serial port's name or path, e.g. "/dev/ttyUSB0"
	// (serial only). It is called serial_port rather than port because port
	// is already the integer destination port.
	SerialPort string `json:"serial_port,omitempty" cel:"serial_port"`
}

// Risk is the subject's current risk as behavioural analytics sees it.
type Risk struct {
	// Score is from 0 (nothing unusual) to 100 (almost certainly hostile).
	Score int64 `json:"score,omitempty" cel:"score"`
	// Signals name what raised the score, e.g. ["impossible_travel"].
	Signals []string `json:"signals,omitempty" cel:"signals"`
}

// resourceKinds are the values Resource.Kind and selectors may take.
var resourceKinds = []string{"tcp", "udp", "http", "usb", "serial"}

func validKind(k string) bool {
	for _, v := range resourceKinds {
		if k == v {
			return true
		}
	}
	return false
}

// maxRequestBytes bounds one JSON request: far above any real one, small
// enough that a hostile line cannot exhaust memory.
const maxRequestBytes = 1 << 20

// ParseRequest decodes one request from JSON. Unknown fields are errors so
// that a misspelt field does not silently decide differently.
func ParseRequest(data []byte) (*Request, error) {
	if len(data) > maxRequestBytes {
		return nil, fmt.Errorf("policy: request is %d bytes, more than the limit of %d", len(data), maxRequestBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Request
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("policy: request: %w", jsonError(data, err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("policy: request: unexpected data after the JSON object")
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("policy: request: %w", err)
	}
	return &r, nil
}

func (r *Request) validate() error {
	if r.Resource.Kind != "" && !validKind(r.Resource.Kind) {
		return fmt.Errorf("resource.kind %q is not one of tcp, udp, http, usb, serial", r.Resource.Kind)
	}
	if r.Risk.Score < 0 || r.Risk.Score > 100 {
		return fmt.Errorf("risk.score %d is outside 0..100", r.Risk.Score)
	}
	return nil
}

// jsonError adds a line and column to JSON syntax and type errors.
func jsonError(data []byte, err error) error {
	var off int64 = -1
	switch e := err.(type) {
	case *json.SyntaxError:
		off = e.Offset
	case *json.UnmarshalTypeError:
		off = e.Offset
	}
	if off < 0 {
		return err
	}
	line, col := 1, 1
	for i := int64(0); i < off && i < int64(len(data)); i++ {
		if data[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}

package server

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// fieldError is a refused input with the field it is about.
type fieldError struct {
	Field   string
	Message string
}

func (e *fieldError) Error() string { return e.Field + ": " + e.Message }

// invalidField is the API answer to a fieldError: the common error format
// plus the field.
type invalidField struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

func writeFieldError(w http.ResponseWriter, fe *fieldError) {
	writeJSON(w, http.StatusBadRequest, invalidField{Status: http.StatusBadRequest, Code: "invalid", Message: fe.Error(), Field: fe.Field})
}

// validateResource checks what a gateway needs to serve a network
// resource (tcp, udp, http): its name is the DNS name peers resolve
// through the gateway, so it must be a valid DNS name; its upstream is
// address "host:port", or address "host" with port (http defaults to 80),
// never both, with host an IP address or a DNS name. usb and serial
// resources are served from a gateway's or connector's own configuration
// and are not checked here beyond their kind.
func validateResource(name, kind, address string, port int) *fieldError {
	switch kind {
	case "tcp", "udp", "http":
	case "usb", "serial":
		return nil
	default:
		return &fieldError{"kind", "must be tcp, udp, http, usb or serial"}
	}
	if msg := dnsNameProblem(name); msg != "" {
		return &fieldError{"name", fmt.Sprintf("%q is not a valid DNS name: %s", name, msg)}
	}
	if port < 0 || port > 65535 {
		return &fieldError{"port", fmt.Sprintf("%d is not a port (1-65535)", port)}
	}
	address = strings.TrimSpace(address)
	if address == "" {
		return &fieldError{"address", "required: the upstream as host:port, or a host with port"}
	}
	host := address
	if h, p, err := net.SplitHostPort(address); err == nil {
		if port != 0 {
			return &fieldError{"port", fmt.Sprintf("the address %q has a port already; give it in one place", address)}
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return &fieldError{"address", fmt.Sprintf("%q: port %q is not 1-65535", address, p)}
		}
		host = h
	} else if strings.Count(address, ":") == 1 || strings.HasPrefix(address, "[") {
		return &fieldError{"address", fmt.Sprintf("%q is not host:port: %v", address, err)}
	} else if port == 0 && kind != "http" {
		return &fieldError{"port", fmt.Sprintf("required: the address %q has no port", address)}
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if msg := dnsNameProblem(host); msg != "" {
		return &fieldError{"address", fmt.Sprintf("host %q is neither an IP address nor a DNS name: %s", host, msg)}
	}
	return nil
}

// dnsNameProblem says why s is not a DNS host name (letters, digits and
// hyphens in labels of 1 to 63 characters that neither start nor end with
// a hyphen, 253 characters at most, an optional final dot), or "".
func dnsNameProblem(s string) string {
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "empty"
	}
	if len(s) > 253 {
		return "longer than 253 characters"
	}
	for _, l := range strings.Split(s, ".") {
		switch {
		case l == "":
			return "empty label"
		case len(l) > 63:
			return fmt.Sprintf("label %q is longer than 63 characters", l)
		case l[0] == '-' || l[len(l)-1] == '-':
			return fmt.Sprintf("label %q starts or ends with a hyphen", l)
		}
		for _, c := range []byte(l) {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return fmt.Sprintf("label %q has %q (letters, digits and hyphens only)", l, c)
			}
		}
	}
	return ""
}

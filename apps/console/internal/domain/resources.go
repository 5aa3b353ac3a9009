package domain

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// Resource is something gateways give access to: a network service
// (tcp, udp, http) at an upstream address, or a USB device or serial
// port (usb, serial) that a gateway or connector serves from its own
// configuration.
type Resource struct {
	// Name is the resource's DNS name inside the tunnel.
	Name    string
	Kind    string
	Address string
	Port    int
	Labels  map[string]string
	// Gateway, when set, is the gateway that serves it.
	Gateway string
	Note    string
}

// ResourceKinds are the kinds of resource, in the order forms offer
// them.
var ResourceKinds = []string{"tcp", "udp", "http", "usb", "serial"}

// ValidResourceKind reports whether kind is one of ResourceKinds.
func ValidResourceKind(kind string) bool {
	switch kind {
	case "tcp", "udp", "http", "usb", "serial":
		return true
	}
	return false
}

func resourceOf(r *store.Resource) *Resource {
	return &Resource{Name: r.Name, Kind: r.Kind, Address: r.Address, Port: r.Port, Labels: r.Labels, Gateway: r.Gateway, Note: r.Note}
}

// ListResources returns a page of the console's resources, by name.
func (s *Service) ListResources(ctx context.Context, _ Actor, o ListOptions) ([]Resource, error) {
	rs, err := s.st.ListResources(ctx, o)
	if err != nil {
		return nil, fromStore(err)
	}
	return valuesOf(rs, func(r *store.Resource) Resource { return *resourceOf(r) }), nil
}

// Resource returns the resource called name.
func (s *Service) Resource(ctx context.Context, _ Actor, name string) (*Resource, error) {
	r, err := s.st.Resource(ctx, name)
	if err != nil {
		return nil, fromStore(err)
	}
	return resourceOf(r), nil
}

// PutResource creates the resource in.Name or replaces it, after
// checking that a gateway can serve it (see validateResource), its
// labels and its note. The address is trimmed of spaces.
func (s *Service) PutResource(ctx context.Context, a Actor, in Resource) (*Resource, error) {
	if !ValidResourceKind(in.Kind) || in.Port < 0 || in.Port > 65535 {
		return nil, &InvalidError{Message: "kind must be tcp, udp, http, usb or serial and port 0-65535"}
	}
	in.Address = strings.TrimSpace(in.Address)
	if fe := validateResource(in.Name, in.Kind, in.Address, in.Port); fe != nil {
		return nil, fe
	}
	if fe := validLabels("labels", in.Labels); fe != nil {
		return nil, fe
	}
	if fe := validDescription("note", in.Note); fe != nil {
		return nil, fe
	}
	x := &store.Resource{Name: in.Name, Kind: in.Kind, Address: in.Address, Port: in.Port, Labels: in.Labels, Gateway: in.Gateway, Note: in.Note}
	if err := s.st.PutResource(ctx, x); err != nil {
		return nil, fromStore(err)
	}
	// The detail is the resource as stored: what a reader of the log
	// needs to tell what gateways were told to serve.
	s.record(ctx, a, "resource.put", x.Name, "", x)
	return resourceOf(x), nil
}

// DeleteResource deletes the resource called name.
func (s *Service) DeleteResource(ctx context.Context, a Actor, name string) error {
	if err := s.st.DeleteResource(ctx, name); err != nil {
		return fromStore(err)
	}
	s.record(ctx, a, "resource.delete", name, "", nil)
	return nil
}

// validateResource checks what a gateway needs to serve a network
// resource (tcp, udp, http): its name is the DNS name peers resolve
// through the gateway, so it must be a valid DNS name; its upstream is
// address "host:port", or address "host" with port (http defaults to 80),
// never both, with host an IP address or a DNS name. usb and serial
// resources are served from a gateway's or connector's own configuration
// and are not checked here beyond their kind.
func validateResource(name, kind, address string, port int) *InvalidError {
	switch kind {
	case "tcp", "udp", "http":
	case "usb", "serial":
		return nil
	default:
		return &InvalidError{"kind", "must be tcp, udp, http, usb or serial"}
	}
	if msg := dnsNameProblem(name); msg != "" {
		return &InvalidError{"name", fmt.Sprintf("%q is not a valid DNS name: %s", name, msg)}
	}
	if port < 0 || port > 65535 {
		return &InvalidError{"port", fmt.Sprintf("%d is not a port (1-65535)", port)}
	}
	address = strings.TrimSpace(address)
	if address == "" {
		return &InvalidError{"address", "required: the upstream as host:port, or a host with port"}
	}
	host := address
	if h, p, err := net.SplitHostPort(address); err == nil {
		if port != 0 {
			return &InvalidError{"port", fmt.Sprintf("the address %q has a port already; give it in one place", address)}
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return &InvalidError{"address", fmt.Sprintf("%q: port %q is not 1-65535", address, p)}
		}
		host = h
	} else if strings.Count(address, ":") == 1 || strings.HasPrefix(address, "[") {
		return &InvalidError{"address", fmt.Sprintf("%q is not host:port: %v", address, err)}
	} else if port == 0 && kind != "http" {
		return &InvalidError{"port", fmt.Sprintf("required: the address %q has no port", address)}
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if msg := dnsNameProblem(host); msg != "" {
		return &InvalidError{"address", fmt.Sprintf("host %q is neither an IP address nor a DNS name: %s", host, msg)}
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

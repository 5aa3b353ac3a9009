package domain

import (
	"fmt"
	"strings"

	"github.com/gonaut/gonaut/ztna/controlplane"
)

// A gateway reports, in its status, the resources it serves from its own
// configuration; the Resources page lists them read-only. They are
// checked on arrival (validateStatus) and again when read, with the same
// check, so a status stored before the check existed shows nothing it
// would refuse today.

// localResourceKinds are the kinds a resource may have.
var localResourceKinds = map[string]bool{"tcp": true, "udp": true, "http": true, "usb": true, "serial": true}

// validateLocalResources checks the resources a gateway reports serving
// from its own configuration: at most MaxLocalResources, each named as a
// console resource is (a DNS name), of a known kind, on a port or none.
// They are shown to people, so a bad list refuses the whole status.
func validateLocalResources(rs []controlplane.LocalResource) error {
	if len(rs) > controlplane.MaxLocalResources {
		return fmt.Errorf("console: %d local resources reported, at most %d", len(rs), controlplane.MaxLocalResources)
	}
	for i, r := range rs {
		if msg := dnsNameProblem(r.Name); msg != "" {
			return fmt.Errorf("console: local resource %d: name %q is not a valid DNS name: %s", i, r.Name, msg)
		}
		if !localResourceKinds[r.Kind] {
			return fmt.Errorf("console: local resource %q: kind %q is not tcp, udp, http, usb or serial", r.Name, r.Kind)
		}
		if r.Port < 0 || r.Port > 65535 {
			return fmt.Errorf("console: local resource %q: %d is not a port (1-65535)", r.Name, r.Port)
		}
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

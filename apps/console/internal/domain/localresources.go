package domain

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gonaut/gonaut/ztna/controlplane"
)

// LocalResource is a resource a gateway reports serving from its own
// configuration: read-only in the console, edited in that gateway's
// configuration file.
type LocalResource struct {
	Name string
	Kind string
	Port int // 0: none
	// GatewayID and GatewayName are the gateway that reported it.
	GatewayID, GatewayName string
}

// ValidateLocalResources checks the resources a gateway reports serving
// from its own configuration: at most MaxLocalResources, each named as a
// console resource is (a DNS name), of a known kind, on a port or none.
// They are shown to people, so a bad list refuses the whole status.
func ValidateLocalResources(rs []controlplane.LocalResource) error {
	if len(rs) > controlplane.MaxLocalResources {
		return fmt.Errorf("console: %d local resources reported, at most %d", len(rs), controlplane.MaxLocalResources)
	}
	for i, r := range rs {
		if msg := dnsNameProblem(r.Name); msg != "" {
			return fmt.Errorf("console: local resource %d: name %q is not a valid DNS name: %s", i, r.Name, msg)
		}
		if !ValidResourceKind(r.Kind) {
			return fmt.Errorf("console: local resource %q: kind %q is not tcp, udp, http, usb or serial", r.Name, r.Kind)
		}
		if r.Port < 0 || r.Port > 65535 {
			return fmt.Errorf("console: local resource %q: %d is not a port (1-65535)", r.Name, r.Port)
		}
	}
	return nil
}

// LocalResources returns what each gateway (not revoked) last reported
// serving from its own configuration whose name contains query
// (case-insensitive; "" for all), gateway by gateway.
func (s *Service) LocalResources(ctx context.Context, _ Actor, query string) ([]LocalResource, error) {
	gs, err := s.st.ListGateways(ctx)
	if err != nil {
		return nil, fromStore(err)
	}
	query = strings.ToLower(query)
	var out []LocalResource
	for _, g := range gs {
		if g.Revoked || len(g.Status) == 0 {
			continue
		}
		var st controlplane.Status
		// A status stored before its resources were checked is read
		// with the same check it would meet on arrival today.
		if json.Unmarshal(g.Status, &st) != nil || ValidateLocalResources(st.Resources) != nil {
			continue
		}
		for _, r := range st.Resources {
			if query != "" && !strings.Contains(strings.ToLower(r.Name), query) {
				continue
			}
			out = append(out, LocalResource{Name: r.Name, Kind: r.Kind, Port: r.Port, GatewayID: g.ID, GatewayName: g.Name})
		}
	}
	return out, nil
}

package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/ui"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

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
		if !resourceKinds[r.Kind] {
			return fmt.Errorf("console: local resource %q: kind %q is not tcp, udp, http, usb or serial", r.Name, r.Kind)
		}
		if r.Port < 0 || r.Port > 65535 {
			return fmt.Errorf("console: local resource %q: %d is not a port (1-65535)", r.Name, r.Port)
		}
	}
	return nil
}

// localResourceRows are the Resources page's read-only rows for what each
// gateway (not revoked) last reported serving from its own configuration,
// filtered by query as the console's rows are.
func (s *Server) localResourceRows(ctx context.Context, query string) ([]ui.Row, error) {
	gs, err := s.st.ListGateways(ctx)
	if err != nil {
		return nil, err
	}
	query = strings.ToLower(query)
	var rows []ui.Row
	for _, g := range gs {
		if g.Revoked || len(g.Status) == 0 {
			continue
		}
		var st controlplane.Status
		// A status stored before its resources were checked is read
		// with the same check it would meet on arrival today.
		if json.Unmarshal(g.Status, &st) != nil || validateLocalResources(st.Resources) != nil {
			continue
		}
		for _, r := range st.Resources {
			if query != "" && !strings.Contains(strings.ToLower(r.Name), query) {
				continue
			}
			port := ""
			if r.Port != 0 {
				port = strconv.Itoa(r.Port)
			}
			rows = append(rows, ui.Row{Tone: "muted", Actions: []string{},
				Cells:  []string{r.Name, r.Kind, "", port, "", "from gateway " + g.Name},
				Titles: []string{"", "", "", "", "", g.ID}})
		}
	}
	return rows, nil
}

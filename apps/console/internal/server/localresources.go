package server

import (
	"context"
	"strconv"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

// localResourceRows are the Resources page's read-only rows for what each
// gateway (not revoked) last reported serving from its own configuration,
// filtered by query as the console's rows are.
func (s *Server) localResourceRows(ctx context.Context, query string) ([]ui.Row, error) {
	lrs, err := s.dom.LocalResources(ctx)
	if err != nil {
		return nil, err
	}
	query = strings.ToLower(query)
	var rows []ui.Row
	for _, r := range lrs {
		if query != "" && !strings.Contains(strings.ToLower(r.Name), query) {
			continue
		}
		port := ""
		if r.Port != 0 {
			port = strconv.Itoa(r.Port)
		}
		rows = append(rows, ui.Row{Tone: "muted", Actions: []string{},
			Cells:  []string{r.Name, r.Kind, "", port, "", "from gateway " + r.GatewayName},
			Titles: []string{"", "", "", "", "", r.GatewayID}})
	}
	return rows, nil
}

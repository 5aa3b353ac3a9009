package server

import (
	"net/http"
	"strconv"

	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

// localResourceRows are the Resources page's read-only rows for what each
// gateway (not revoked) last reported serving from its own configuration,
// filtered by query as the console's rows are.
func (s *Server) localResourceRows(r *http.Request, p *principal, query string) ([]ui.Row, error) {
	ls, err := s.dom.LocalResources(r.Context(), s.domainActor(r, p), query)
	if err != nil {
		return nil, err
	}
	var rows []ui.Row
	for _, l := range ls {
		port := ""
		if l.Port != 0 {
			port = strconv.Itoa(l.Port)
		}
		rows = append(rows, ui.Row{Tone: "muted", Actions: []string{},
			Cells:  []string{l.Name, l.Kind, "", port, "", "from gateway " + l.GatewayName},
			Titles: []string{"", "", "", "", "", l.GatewayID}})
	}
	return rows, nil
}

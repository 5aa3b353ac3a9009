package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

func (s *Server) pageAnalyticsRoutes() []route {
	return []route{
		pageRoute("GET", "/analytics", permRead, s.pageAnalytics),
	}
}

func (s *Server) pageAnalytics(w http.ResponseWriter, r *http.Request, p *principal) {
	an, err := p.dom.Analytics(r.Context(), p.domainActor())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	hits := an.Hits
	a := ui.Analytics{Page: s.pageOf(r, p, "Analytics", "analytics")}
	for _, u := range an.Risks {
		row := ui.RiskRow{Subject: u.DisplayName(), SubjectID: u.Subject, Score: u.Score, Signals: strings.Join(u.Signals, ", "), Alerts: u.Alerts, Open: u.OpenAlerts,
			Allowed: u.Allowed, Denied: u.Denied, LastAlert: when(u.LastAlert), Href: "/alerts?q=" + url.QueryEscape(u.Subject)}
		if u.LastAlert.IsZero() {
			row.LastAlert = "none"
		}
		row.From = "console"
		if u.ScoreFrom == "gateway" {
			row.From = "gateway " + u.Gateway
		}
		a.Risks = append(a.Risks, row)
	}
	a.RiskChart = ui.RiskChart(a.Risks, 10)
	bars := make([]ui.HourBar, len(hits.Hours))
	for i, h := range hits.Hours {
		bars[i] = ui.HourBar{Hour: h.Hour, Hits: h.Hits}
		if len(h.Hits) > 0 {
			var parts []string
			for _, d := range hits.Detectors {
				if n := h.Hits[d]; n > 0 {
					parts = append(parts, d+" "+strconv.Itoa(n))
				}
			}
			a.Hours = append(a.Hours, ui.Row{Cells: []string{h.Hour.Format("2006-01-02 15:04"), strings.Join(parts, ", ")}})
		}
	}
	a.HitsChart = ui.DetectorChart(bars, hits.Detectors)
	for _, d := range hits.Detectors {
		a.Detectors = append(a.Detectors, ui.Count{Label: d, N: hits.Totals[d]})
	}
	s.render(w, r, http.StatusOK, ui.AnalyticsPage(a))
}

package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// The analytics API: users' risk and the detectors' hits over the last
// day (see domain/analytics.go for how they are computed).

// UserRisk is one user's risk as the API answers it: domain.UserRisk.
type UserRisk struct {
	Subject      string    `json:"subject"`
	Name         string    `json:"name,omitempty"`
	Score        int       `json:"score"`
	ScoreFrom    string    `json:"score_from"`
	GatewayScore int       `json:"gateway_score,omitempty"`
	Gateway      string    `json:"gateway,omitempty"`
	ConsoleScore int       `json:"console_score"`
	Signals      []string  `json:"signals"`
	Alerts       int       `json:"alerts"`
	OpenAlerts   int       `json:"open_alerts"`
	LastAlert    time.Time `json:"last_alert,omitzero"`
	Allowed      int       `json:"allowed"`
	Denied       int       `json:"denied"`
}

func userRiskOf(u domain.UserRisk) UserRisk {
	return UserRisk{Subject: u.Subject, Name: u.Name, Score: u.Score, ScoreFrom: u.ScoreFrom, GatewayScore: u.GatewayScore, Gateway: u.Gateway,
		ConsoleScore: u.ConsoleScore, Signals: u.Signals, Alerts: u.Alerts, OpenAlerts: u.OpenAlerts, LastAlert: u.LastAlert, Allowed: u.Allowed, Denied: u.Denied}
}

// DetectorHits counts alerts per detector and hour over the last day,
// oldest hour first, as the API answers it.
type DetectorHits struct {
	Since     time.Time      `json:"since"`
	Detectors []string       `json:"detectors"`
	Hours     []HourHits     `json:"hours"`
	Totals    map[string]int `json:"totals"`
}

// HourHits is one hour of DetectorHits.
type HourHits struct {
	Hour time.Time      `json:"hour"`
	Hits map[string]int `json:"hits"`
}

func detectorHitsOf(d domain.DetectorHits) DetectorHits {
	out := DetectorHits{Since: d.Since, Detectors: d.Detectors, Totals: d.Totals}
	for _, h := range d.Hours {
		out.Hours = append(out.Hours, HourHits{Hour: h.Hour, Hits: h.Hits})
	}
	return out
}

func (s *Server) apiAnalyticsRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/analytics/summary", perm: permRead, h: s.apiSummary},
		{method: "GET", path: "/api/v1/analytics/risk", perm: permRead, h: s.apiRisk},
		{method: "GET", path: "/api/v1/analytics/detectors", perm: permRead, h: s.apiDetectorHits},
	}
}

func (s *Server) apiRisk(w http.ResponseWriter, r *http.Request, p *principal) {
	// q narrows to users whose name contains it; limit keeps the riskiest.
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	us, err := p.dom.Risks(r.Context(), p.domainActor(), domain.RiskQuery{Query: q.Get("q"), Limit: clampLimit(limit)})
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	out := page[UserRisk]{Items: make([]UserRisk, len(us))}
	for i, u := range us {
		out.Items[i] = userRiskOf(u)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiDetectorHits(w http.ResponseWriter, r *http.Request, p *principal) {
	d, err := p.dom.DetectorHits(r.Context(), p.domainActor())
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, detectorHitsOf(d))
}

// Summary is the dashboard's numbers over a recent window, as the API
// answers them.
type Summary struct {
	Since        time.Time       `json:"since"`
	Decisions    int             `json:"decisions"`
	Allowed      int             `json:"allowed"`
	Denied       int             `json:"denied"`
	PerMinute    []MinuteCount   `json:"per_minute"`
	TopResources []ResourceCount `json:"top_resources"`
	Bytes        int64           `json:"bytes"`
	Gateways     int             `json:"gateways"`
	Healthy      int             `json:"gateways_healthy"`
	OpenAlerts   int             `json:"open_alerts"`
}

// MinuteCount is one bar of the decisions chart.
type MinuteCount struct {
	Minute  time.Time `json:"minute"`
	Allowed int       `json:"allowed"`
	Denied  int       `json:"denied"`
}

// ResourceCount is one row of the top resources.
type ResourceCount struct {
	Resource string `json:"resource"`
	Count    int    `json:"count"`
}

func summaryOf(sum domain.Summary) Summary {
	out := Summary{Since: sum.Since, Decisions: sum.Decisions, Allowed: sum.Allowed, Denied: sum.Denied,
		PerMinute: make([]MinuteCount, len(sum.PerMinute)), TopResources: make([]ResourceCount, len(sum.TopResources)),
		Bytes: sum.Bytes, Gateways: sum.Gateways, Healthy: sum.Healthy, OpenAlerts: sum.OpenAlerts}
	for i, m := range sum.PerMinute {
		out.PerMinute[i] = MinuteCount{Minute: m.Minute, Allowed: m.Allowed, Denied: m.Denied}
	}
	for i, t := range sum.TopResources {
		out.TopResources[i] = ResourceCount{Resource: t.Resource, Count: t.Count}
	}
	return out
}

func (s *Server) apiSummary(w http.ResponseWriter, r *http.Request, p *principal) {
	sum, err := p.dom.Summary(r.Context(), p.domainActor())
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, summaryOf(sum))
}

package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// Alert is an analytics alert as the API answers it: domain.Alert.
type Alert struct {
	ID       string          `json:"id"`
	Time     time.Time       `json:"time"`
	Severity string          `json:"severity"`
	Kind     string          `json:"kind"`
	Subject  string          `json:"subject"`
	Message  string          `json:"message"`
	Evidence json.RawMessage `json:"evidence,omitempty"`
	State    string          `json:"state"` // open, acknowledged, resolved
}

func alertOf(a domain.Alert) Alert {
	return Alert{ID: a.ID, Time: a.Time, Severity: a.Severity, Kind: a.Kind, Subject: a.Subject, Message: a.Message, Evidence: a.Evidence, State: a.State}
}

func (s *Server) apiAlertRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/alerts", perm: permRead, h: s.apiListAlerts},
		{method: "POST", path: "/api/v1/alerts/{id}/state", perm: permOps, h: s.apiAlertState},
		{method: "GET", path: "/api/v1/alerts/{id}", perm: permRead, h: s.apiGetAlert},
	}
}

func (s *Server) apiListAlerts(w http.ResponseWriter, r *http.Request, p *principal) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	ap, err := p.dom.ListAlerts(r.Context(), p.domainActor(), domain.AlertQuery{State: q.Get("state"), Query: q.Get("q"), After: q.Get("cursor"), Limit: limit})
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	out := page[Alert]{Items: make([]Alert, len(ap.Alerts)), NextCursor: ap.Next}
	for i, a := range ap.Alerts {
		out.Items[i] = alertOf(a)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiGetAlert(w http.ResponseWriter, r *http.Request, p *principal) {
	a, err := p.dom.Alert(r.Context(), p.domainActor(), r.PathValue("id"))
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, alertOf(a))
}

type alertState struct {
	State string `json:"state"`
}

func (s *Server) apiAlertState(w http.ResponseWriter, r *http.Request, p *principal) {
	var req alertState
	if !decode(w, r, &req) {
		return
	}
	if err := p.dom.SetAlertState(r.Context(), p.domainActor(), r.PathValue("id"), req.State); err != nil {
		s.writeProblem(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

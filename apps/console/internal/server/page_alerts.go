package server

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

func (s *Server) pageAlertRoutes() []route {
	return []route{
		pageRoute("GET", "/alerts", permRead, s.pageAlerts),
		pageRoute("POST", "/alerts/{id}/acknowledge", permOps, s.pageAlertState("acknowledged")),
		pageRoute("POST", "/alerts/{id}/resolve", permOps, s.pageAlertState("resolved")),
		pageRoute("GET", "/alerts/{id}", permRead, s.pageAlert),
	}
}

func (s *Server) pageAlerts(w http.ResponseWriter, r *http.Request, p *principal) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	state, shown := q.Get("state"), q.Get("q")
	a := p.domainActor()
	ap, err := p.dom.ListAlerts(r.Context(), a, domain.AlertQuery{State: state, Query: shown, QueryByName: true, After: q.Get("cursor"), Limit: limit})
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	ids := make([]string, len(ap.Alerts))
	for i, al := range ap.Alerts {
		ids[i] = al.Subject
	}
	n := p.dom.DisplayNames(r.Context(), a, ids)
	l := ui.List{Page: s.pageOf(r, p, "Alerts", "alerts"), Heading: "Alerts", Query: shown, Action: "/alerts",
		Table:   ui.Table{Head: []string{"Time", "Severity", "Kind", "Subject", "Message", "State", "Evidence"}},
		Filters: []ui.Field{{Name: "state", Label: "State", Options: []string{"", "open", "acknowledged", "resolved"}, Value: state}}}
	if allowed(permOps, p.role) {
		l.RowActions = []string{"acknowledge", "resolve"}
	}
	for _, al := range ap.Alerts {
		tone := ""
		if al.State != "open" {
			tone = "muted"
		}
		row := ui.Row{ID: al.ID, Tone: tone, Href: "/alerts/" + url.PathEscape(al.ID),
			Cells:  []string{when(al.Time), al.Severity, al.Kind, n.Of(al.Subject), al.Message, al.State, ui.Pretty(al.Evidence)},
			Titles: []string{"", "", "", n.Title(al.Subject), "", "", ""}}
		if l.RowActions != nil {
			row.Actions = alertActions(al.State)
		}
		l.Table.Rows = append(l.Table.Rows, row)
	}
	s.render(w, r, http.StatusOK, ui.ListPage(l))
}

// alertActions is what an alert in state may still become, as the
// actions of its row: domain.AlertNext, the moves SetAlertState allows.
func alertActions(state string) []string {
	out := []string{}
	for _, next := range domain.AlertNext(state) {
		out = append(out, alertAction[next])
	}
	return out
}

// alertAction names the page action that moves an alert to a state.
var alertAction = map[string]string{"acknowledged": "acknowledge", "resolved": "resolve"}

func (s *Server) pageAlertState(state string) func(http.ResponseWriter, *http.Request, *principal) {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		back := "/alerts"
		if r.PostFormValue("back") == "detail" {
			back += "/" + url.PathEscape(r.PathValue("id"))
		}
		if err := p.dom.SetAlertState(r.Context(), p.domainActor(), r.PathValue("id"), state); err != nil {
			if _, ok := errors.AsType[*domain.ConflictError](err); ok {
				s.redirect(w, r, back, flashError, "Not changed: "+s.problemMessage(err)+".")
				return
			}
			s.pageError(w, r, err)
			return
		}
		s.redirect(w, r, back, flashInfo, "Alert "+state+".")
	}
}

func (s *Server) pageAlert(w http.ResponseWriter, r *http.Request, p *principal) {
	a := p.domainActor()
	al, err := p.dom.Alert(r.Context(), a, r.PathValue("id"))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d := ui.AlertDetail{Page: s.pageOf(r, p, "Alert "+al.Kind, "alerts"), ID: al.ID, Time: when(al.Time), Severity: al.Severity,
		Kind: al.Kind, Subject: al.Subject, Message: al.Message, State: al.State, Risk: -1, CanChange: allowed(permOps, p.role)}
	d.Evidence, d.Raw = ui.Evidence(al.Evidence)
	if al.Subject != "" {
		if n := p.dom.DisplayNames(r.Context(), a, []string{al.Subject}); n.Title(al.Subject) != "" {
			d.SubjectName = n.Of(al.Subject)
		}
		if risk, err := p.dom.SubjectRisk(r.Context(), a, al.Subject); err == nil {
			d.Risk = risk
		}
	}
	s.render(w, r, http.StatusOK, ui.AlertPage(d))
}

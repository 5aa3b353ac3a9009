package domain

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// Alert is an analytics alert: raised by a detector on a gateway, sent
// as an event of kind "alert", and stored with the detector's name as
// its Kind.
type Alert struct {
	ID       string
	Time     time.Time
	Severity string // low, medium, high, critical
	Kind     string
	Subject  string // a user id (an email for older alerts); "" for source-level alerts
	Message  string
	Evidence json.RawMessage
	State    string // open, acknowledged, resolved
}

func alertOf(a store.Alert) Alert {
	return Alert{ID: a.ID, Time: a.Time, Severity: a.Severity, Kind: a.Kind, Subject: a.Subject, Message: a.Message, Evidence: a.Evidence, State: a.State}
}

// AlertNext returns the states an alert in state may move to, the moves
// SetAlertState allows: an open alert may be acknowledged or resolved,
// an acknowledged one resolved, a resolved one nothing.
func AlertNext(state string) []string {
	return append([]string{}, store.AlertNext[state]...)
}

// ValidSeverity reports whether severity is one an alert may have:
// low, medium, high or critical, each with its weight in a user's risk.
func ValidSeverity(severity string) bool { return severityWeight[severity] != 0 }

// AlertQuery selects alerts, newest first.
type AlertQuery struct {
	// State keeps only alerts in it; "" is every state.
	State string
	// Query is a case-insensitive substring of the subject or message.
	Query string
	// QueryByName lets Query be a person's name for the subject (an
	// email, a device name): when it names exactly one thing, alerts
	// are searched for that thing's id, which is how they name it.
	QueryByName bool
	// After is the cursor, the last alert id of the previous page;
	// Limit the page size, 50 when zero, at most 1000.
	After string
	Limit int
}

// AlertPage is one page of alerts.
type AlertPage struct {
	Alerts []Alert
	// Next is the cursor (AlertQuery.After) of the next page; "" when
	// this page is the last.
	Next string
}

// ListAlerts returns one page of the alerts q selects.
func (s *Service) ListAlerts(ctx context.Context, _ Actor, q AlertQuery) (AlertPage, error) {
	o := store.ListOptions{After: q.After, Limit: q.Limit, Query: q.Query}
	if q.QueryByName {
		if ids, err := s.st.NameIDs(ctx, strings.TrimSpace(q.Query)); err == nil && len(ids) == 1 {
			o.Query = ids[0]
		}
	}
	as, err := s.st.ListAlerts(ctx, q.State, o)
	if err != nil {
		return AlertPage{}, fromStore(err)
	}
	p := AlertPage{Alerts: make([]Alert, len(as))}
	for i, a := range as {
		p.Alerts[i] = alertOf(a)
	}
	if len(as) > 0 && len(as) == storePageSize(q.Limit) {
		p.Next = as[len(as)-1].ID
	}
	return p, nil
}

// Alert returns one alert by id.
func (s *Service) Alert(ctx context.Context, _ Actor, id string) (Alert, error) {
	a, err := s.st.Alert(ctx, id)
	if err != nil {
		return Alert{}, fromStore(err)
	}
	return alertOf(*a), nil
}

// SetAlertState moves the alert id to state (acknowledged or resolved)
// and records it as "alert.<state>". A state that is not one is
// invalid; a move AlertNext does not allow from the alert's state is a
// conflict that says why and changes nothing.
func (s *Service) SetAlertState(ctx context.Context, a Actor, id, state string) error {
	if err := s.st.SetAlertState(ctx, id, state); err != nil {
		return fromStore(err)
	}
	s.record(ctx, a, "alert."+state, id, "", nil)
	return nil
}

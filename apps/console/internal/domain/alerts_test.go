package domain

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

var operator = Actor{ID: "u_op", UserID: "u_op", Role: RoleOperator}

func TestSetAlertState(t *testing.T) {
	s, st := newInsightService(t, Options{})
	ctx := context.Background()
	a := &store.Alert{Time: time.Now(), Severity: "high", Kind: "new_device", Subject: "u_ann", Message: "x"}
	if err := st.CreateAlert(ctx, a); err != nil {
		t.Fatal(err)
	}
	var invalid *InvalidError
	if err := s.SetAlertState(ctx, operator, a.ID, "forgotten"); !errors.As(err, &invalid) {
		t.Errorf("unknown state: %v, want invalid", err)
	}
	if err := s.SetAlertState(ctx, operator, "a_missing", "resolved"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown alert: %v, want not found", err)
	}
	if err := s.SetAlertState(ctx, operator, a.ID, "resolved"); err != nil {
		t.Fatal(err)
	}
	var conflict *ConflictError
	if err := s.SetAlertState(ctx, operator, a.ID, "acknowledged"); !errors.As(err, &conflict) || conflict.Message == "" {
		t.Errorf("acknowledging a resolved alert: %v, want a conflict saying why", err)
	}
	if es := auditOf(t, st, "alert.resolved"); len(es) != 1 || es[0].Actor != operator.ID || es[0].Resource != a.ID {
		t.Errorf("alert.resolved entries %+v", es)
	}
	if es := auditOf(t, st, "alert.acknowledged"); len(es) != 0 {
		t.Errorf("a refused move was recorded: %+v", es)
	}
	got, err := s.Alert(ctx, operator, a.ID)
	if err != nil || got.State != "resolved" || got.Subject != "u_ann" {
		t.Errorf("alert %+v, %v", got, err)
	}
	if _, err := s.Alert(ctx, operator, "a_missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing alert: %v", err)
	}
	if next := AlertNext("open"); len(next) != 2 {
		t.Errorf("AlertNext(open) = %v", next)
	}
}

// TestListAlertsByName: the page's search by a person's email finds the
// alerts that name her by id; the API's literal search does not.
func TestListAlertsByName(t *testing.T) {
	s, st := newInsightService(t, Options{})
	ctx := context.Background()
	u := &store.User{Email: "ann@example.com", Role: RoleViewer}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := st.CreateAlert(ctx, &store.Alert{Time: time.Now(), Severity: "low", Kind: "unusual_hour", Subject: u.ID, Message: "late"}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := s.ListAlerts(ctx, operator, AlertQuery{Query: "ann@example.com", QueryByName: true, Limit: 2})
	if err != nil || len(p.Alerts) != 2 || p.Next == "" {
		t.Fatalf("by name: %+v, %v", p, err)
	}
	if p, _ = s.ListAlerts(ctx, operator, AlertQuery{Query: "ann@example.com", QueryByName: true, After: p.Next, Limit: 2}); len(p.Alerts) != 1 || p.Next != "" {
		t.Errorf("second page: %+v", p)
	}
	if p, _ := s.ListAlerts(ctx, operator, AlertQuery{Query: "ann@example.com"}); len(p.Alerts) != 0 {
		t.Errorf("literal search found %d alerts", len(p.Alerts))
	}
}

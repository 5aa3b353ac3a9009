package domain

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// TestRisksFromAlertsAndGateways: a user no live gateway reports gets
// the console's score from her alerts; one a live gateway reports gets
// the gateway's; the query and limit narrow the list.
func TestRisksFromAlertsAndGateways(t *testing.T) {
	now := time.Now()
	s, st := newInsightService(t, Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	for _, a := range []store.Alert{
		{Time: now, Severity: "high", Kind: "new_device", Subject: "u_cat", Message: "x"},
		{Time: now, Severity: "low", Kind: "unusual_hour", Subject: "u_dan", Message: "x"},
		{Time: now.Add(-30 * time.Hour), Severity: "critical", Kind: "exfiltration", Subject: "u_old", Message: "outside the window"},
	} {
		if err := st.CreateAlert(ctx, &a); err != nil {
			t.Fatal(err)
		}
	}
	g := &store.Gateway{Name: "edge-a", TokenHash: "th"}
	if err := st.CreateGateway(ctx, g); err != nil {
		t.Fatal(err)
	}
	status, _ := json.Marshal(controlplane.Status{Time: now, Risk: []controlplane.SubjectRisk{{Subject: "u_dan", Score: 80, Signals: []string{"rate_spike"}}}})
	if err := st.UpdateGatewayStatus(ctx, g.ID, now, 1, status); err != nil {
		t.Fatal(err)
	}
	us, err := s.Risks(ctx, auditor, RiskQuery{})
	if err != nil || len(us) != 2 {
		t.Fatalf("risks %+v, %v", us, err)
	}
	dan, cat := us[0], us[1]
	if dan.Subject != "u_dan" || dan.Score != 80 || dan.ScoreFrom != "gateway" || dan.Gateway != "edge-a" || len(dan.Signals) != 1 || dan.Signals[0] != "rate_spike" {
		t.Errorf("u_dan %+v", dan)
	}
	if cat.Subject != "u_cat" || cat.Score != 53 || cat.ScoreFrom != "console" || cat.Alerts != 1 || cat.OpenAlerts != 1 {
		t.Errorf("u_cat %+v", cat)
	}
	if us, _ := s.Risks(ctx, auditor, RiskQuery{Query: "CAT"}); len(us) != 1 || us[0].Subject != "u_cat" {
		t.Errorf("query cat: %+v", us)
	}
	if us, _ := s.Risks(ctx, auditor, RiskQuery{Limit: 1}); len(us) != 1 || us[0].Subject != "u_dan" {
		t.Errorf("limit 1: %+v", us)
	}
	// The alert page's score is the subject's own, though a gateway
	// reports a riskier user.
	if r, err := s.SubjectRisk(ctx, auditor, "u_cat"); err != nil || r != 53 {
		t.Errorf("SubjectRisk(u_cat) = %d, %v", r, err)
	}
	d, err := s.DetectorHits(ctx, auditor)
	if err != nil || d.Totals["new_device"] != 1 || d.Totals["exfiltration"] != 0 || len(d.Hours) != 24 {
		t.Errorf("detector hits %+v, %v", d, err)
	}
	if !ValidSeverity("critical") || ValidSeverity("urgent") {
		t.Error("ValidSeverity")
	}
}

package domain

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gonaut/gonaut/analytics"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// The console's analytics are derived from what it stores: the alerts
// (raised by the analytics detectors of the gateways, which send them as
// events of kind "alert", and stored with the detector's name as their
// kind), the decisions gateways report to the audit log, and the risk
// scores gateways report in their heartbeat.
//
// A user's risk is the highest score any live gateway (seen within
// gatewayRiskFresh, not revoked) reports for them: a gateway's analytics
// see every flow it carries, including what never becomes an alert. A
// user no live gateway reports (their score there is zero, or the
// gateways are down) gets the console's own computation from the alerts
// it stores, with the same rule the analytics package applies on a
// gateway: every alert adds its severity's weight (low 10, medium 25,
// high 45, critical 70), the weight halves every two hours, and the score
// is 100·(1 − e^(−S/60)) of the sum S. Both figures are in the answer
// (GatewayScore, ConsoleScore) and ScoreFrom says which one Score is.

// Windows the analytics look at.
const (
	analyticsWindow = 24 * time.Hour
	// decisionWindow is how far back decisions are counted per user: the
	// audit log holds far more decisions than alerts, and an hour keeps
	// the count cheap on a busy console.
	decisionWindow = time.Hour
	riskHalfLife   = 2 * time.Hour
	// gatewayRiskFresh is how recent a gateway's heartbeat must be for
	// its risk scores to count.
	gatewayRiskFresh = 2 * time.Minute
	// analyticsScanCap bounds how many alerts and audit entries one
	// analytics answer reads, so that a busy day cannot make a page slow.
	analyticsScanCap = 20000
)

var severityWeight = map[string]float64{"low": 10, "medium": 25, "high": 45, "critical": 70}

// UserRisk is one user's risk as the console sees it over the last day.
type UserRisk struct {
	// Subject is the user's id as events and alerts carry it (an email
	// for older entries); Name her email when Subject is a known id.
	Subject string
	Name    string
	// Score is 0 (nothing unusual) to 100: GatewayScore when a live
	// gateway reports the user, else ConsoleScore.
	Score int
	// ScoreFrom is "gateway" or "console": where Score comes from.
	ScoreFrom string
	// GatewayScore is the highest score live gateways report for the
	// user, and Gateway the name of the gateway that reports it.
	GatewayScore int
	Gateway      string
	// ConsoleScore is the console's score from the alerts it stores.
	ConsoleScore int
	// Signals are the detectors that weigh in Score: the gateway's, or
	// those whose stored alerts still count.
	Signals    []string
	Alerts     int
	OpenAlerts int
	LastAlert  time.Time
	// Allowed and Denied count the user's decisions in the last hour.
	Allowed int
	Denied  int
}

// DisplayName is what the user is shown as: her email, else the id.
func (u UserRisk) DisplayName() string {
	if u.Name != "" {
		return u.Name
	}
	return u.Subject
}

// DetectorHits counts alerts per detector and hour over the last day,
// oldest hour first; Detectors are ordered by their totals, highest
// first.
type DetectorHits struct {
	Since     time.Time
	Detectors []string
	Hours     []HourHits
	Totals    map[string]int
}

// HourHits is one hour of DetectorHits.
type HourHits struct {
	Hour time.Time
	Hits map[string]int
}

// Analytics is what the analytics page shows: every user's risk and the
// detectors' hits, from one reading of the alerts.
type Analytics struct {
	Risks []UserRisk
	Hits  DetectorHits
}

// RiskQuery narrows the risk list.
type RiskQuery struct {
	// Query keeps the users whose id or name contains it,
	// case-insensitively.
	Query string
	// Limit keeps the riskiest Limit users; 0 keeps all.
	Limit int
}

// Risks returns every user's risk over the last day, riskiest first,
// with her decisions of the last hour, narrowed by q.
func (s *Service) Risks(ctx context.Context, _ Actor, q RiskQuery) ([]UserRisk, error) {
	as, err := s.recentAlerts(ctx, "")
	if err != nil {
		return nil, fromStore(err)
	}
	us, err := s.userRisks(ctx, as, true)
	if err != nil {
		return nil, fromStore(err)
	}
	if word := strings.ToLower(q.Query); word != "" {
		us = slices.DeleteFunc(us, func(u UserRisk) bool {
			return !strings.Contains(strings.ToLower(u.Subject), word) && !strings.Contains(strings.ToLower(u.Name), word)
		})
	}
	if q.Limit > 0 {
		us = us[:min(len(us), q.Limit)]
	}
	return us, nil
}

// DetectorHits counts the alerts of the last day per detector and hour.
func (s *Service) DetectorHits(ctx context.Context, _ Actor) (DetectorHits, error) {
	as, err := s.recentAlerts(ctx, "")
	if err != nil {
		return DetectorHits{}, fromStore(err)
	}
	return s.detectorHits(as), nil
}

// Analytics returns every user's risk and the detectors' hits.
func (s *Service) Analytics(ctx context.Context, _ Actor) (Analytics, error) {
	as, err := s.recentAlerts(ctx, "")
	if err != nil {
		return Analytics{}, fromStore(err)
	}
	risks, err := s.userRisks(ctx, as, true)
	if err != nil {
		return Analytics{}, fromStore(err)
	}
	return Analytics{Risks: risks, Hits: s.detectorHits(as)}, nil
}

// SubjectRisk is the risk score of one alert subject over the last day,
// as the risk list would give it.
func (s *Service) SubjectRisk(ctx context.Context, _ Actor, subject string) (int, error) {
	as, err := s.recentAlerts(ctx, subject)
	if err != nil {
		return 0, fromStore(err)
	}
	// The search matches the subject as a substring (and messages):
	// keep only this subject's alerts.
	as = slices.DeleteFunc(as, func(a store.Alert) bool { return a.Subject != subject })
	risks, err := s.userRisks(ctx, as, false)
	if err != nil {
		return 0, nil
	}
	// userRisks also holds every subject a gateway reports: pick this
	// one's, not the riskiest.
	for _, u := range risks {
		if u.Subject == subject {
			return u.Score, nil
		}
	}
	return 0, nil
}

// recentAlerts returns the alerts of the analytics window, newest first,
// reading at most analyticsScanCap of them; query narrows them as the
// alert list's search does (subject or message).
func (s *Service) recentAlerts(ctx context.Context, query string) ([]store.Alert, error) {
	since := s.now().Add(-analyticsWindow)
	var out []store.Alert
	o := store.ListOptions{Limit: 1000, Query: query}
	for len(out) < analyticsScanCap {
		as, err := s.st.ListAlerts(ctx, "", o)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			if a.Time.Before(since) {
				return out, nil
			}
			out = append(out, a)
		}
		if len(as) < o.Limit {
			break
		}
		o.After = as[len(as)-1].ID
	}
	return out, nil
}

// userRisks computes every user's risk from as, the alerts of the
// analytics window, and, withDecisions, counts their decisions of the
// last hour; highest score first.
func (s *Service) userRisks(ctx context.Context, as []store.Alert, withDecisions bool) ([]UserRisk, error) {
	now := s.now()
	users := map[string]*UserRisk{}
	get := func(name string) *UserRisk {
		u := users[name]
		if u == nil {
			u = &UserRisk{Subject: name, Signals: []string{}}
			users[name] = u
		}
		return u
	}
	sums := map[string]map[string]float64{}
	for _, a := range as {
		if a.Subject == "" {
			continue // source-level alerts (password spray) have no user
		}
		u := get(a.Subject)
		u.Alerts++
		if a.State == "open" {
			u.OpenAlerts++
		}
		if a.Time.After(u.LastAlert) {
			u.LastAlert = a.Time
		}
		age := max(now.Sub(a.Time), 0)
		w := severityWeight[a.Severity] * math.Exp2(-float64(age)/float64(riskHalfLife))
		if sums[a.Subject] == nil {
			sums[a.Subject] = map[string]float64{}
		}
		sums[a.Subject][a.Kind] += w
	}
	for name, bySignal := range sums {
		u := users[name]
		total := 0.0
		for sig, w := range bySignal {
			total += w
			// A signal counts while it is worth at least a point.
			if w >= 1 {
				u.Signals = append(u.Signals, sig)
			}
		}
		sort.Strings(u.Signals)
		u.ConsoleScore = analytics.RiskScore(total)
	}
	reported, err := s.gatewayRisks(ctx, now)
	if err != nil {
		return nil, err
	}
	for name, r := range reported {
		u := get(name)
		u.GatewayScore, u.Gateway = r.Score, r.gateway
		u.Signals = append([]string{}, r.Signals...)
		sort.Strings(u.Signals)
	}
	for _, u := range users {
		u.Score, u.ScoreFrom = u.ConsoleScore, "console"
		if _, ok := reported[u.Subject]; ok {
			u.Score, u.ScoreFrom = u.GatewayScore, "gateway"
		}
	}
	if withDecisions {
		cs, err := s.st.DecisionCounts(ctx, now.Add(-decisionWindow), analyticsScanCap)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			if c.Actor == "" {
				continue
			}
			u := get(c.Actor)
			if c.Effect == "allow" {
				u.Allowed += c.Count
			} else {
				u.Denied += c.Count
			}
		}
	}
	ids := make([]string, 0, len(users))
	for id := range users {
		ids = append(ids, id)
	}
	n := s.displayNames(ctx, ids)
	out := make([]UserRisk, 0, len(users))
	for _, u := range users {
		if n.Title(u.Subject) != "" {
			u.Name = n.Of(u.Subject)
		}
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		if a.Denied != b.Denied {
			return a.Denied > b.Denied
		}
		return a.Subject < b.Subject
	})
	return out, nil
}

// reportedRisk is one subject's risk as a gateway reports it.
type reportedRisk struct {
	controlplane.SubjectRisk
	gateway string
}

// gatewayRisks returns the highest risk score that any live gateway
// reports per subject in its last heartbeat. Subjects at zero are not
// reported.
func (s *Service) gatewayRisks(ctx context.Context, now time.Time) (map[string]reportedRisk, error) {
	gs, err := s.st.ListGateways(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]reportedRisk{}
	for _, g := range gs {
		if g.Revoked || now.Sub(g.LastSeen) > gatewayRiskFresh || len(g.Status) == 0 {
			continue
		}
		var st struct {
			Risk []controlplane.SubjectRisk `json:"risk"`
		}
		if json.Unmarshal(g.Status, &st) != nil {
			continue
		}
		for _, r := range st.Risk {
			if r.Subject == "" || r.Score <= 0 {
				continue
			}
			r.Score = min(r.Score, 100)
			if cur, ok := out[r.Subject]; !ok || r.Score > cur.Score {
				out[r.Subject] = reportedRisk{SubjectRisk: r, gateway: g.Name}
			}
		}
	}
	return out, nil
}

// detectorHits counts as, the alerts of the analytics window, per
// detector and hour.
func (s *Service) detectorHits(as []store.Alert) DetectorHits {
	now := s.now()
	since := now.Add(-analyticsWindow).Truncate(time.Hour).Add(time.Hour)
	d := DetectorHits{Since: since, Detectors: []string{}, Totals: map[string]int{}}
	index := map[int64]int{}
	for h := since; !h.After(now); h = h.Add(time.Hour) {
		index[h.Unix()] = len(d.Hours)
		d.Hours = append(d.Hours, HourHits{Hour: h, Hits: map[string]int{}})
	}
	for _, a := range as {
		i, ok := index[a.Time.UTC().Truncate(time.Hour).Unix()]
		if !ok {
			continue
		}
		if d.Totals[a.Kind] == 0 {
			d.Detectors = append(d.Detectors, a.Kind)
		}
		d.Totals[a.Kind]++
		d.Hours[i].Hits[a.Kind]++
	}
	sort.Slice(d.Detectors, func(i, j int) bool {
		a, b := d.Detectors[i], d.Detectors[j]
		return d.Totals[a] > d.Totals[b] || d.Totals[a] == d.Totals[b] && a < b
	})
	return d
}

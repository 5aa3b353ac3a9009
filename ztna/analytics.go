package ztna

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gonaut/gonaut/analytics"
)

// observe feeds ev to analytics and appends the alerts it raised to
// alerts, as events.
func (g *Gateway) observe(ev *Event, alerts []*Event) []*Event {
	aev := analytics.Event{
		Time: ev.Time, Subject: ev.Subject, Device: ev.Device,
		Country: ev.Country, ASN: ev.ASN, Resource: ev.Resource, Rule: ev.Rule,
		BytesIn: ev.BytesIn, BytesOut: ev.BytesOut,
		Duration: time.Duration(ev.Duration * float64(time.Second)),
		SourceIP: ev.outer,
	}
	if !aev.SourceIP.IsValid() {
		aev.SourceIP, _ = parseAddr(ev.Source)
	}
	if ev.Kind == EventFlow {
		aev.Kind, aev.Effect = analytics.KindFlow, analytics.EffectAllow
	} else {
		aev.Kind, aev.Effect = analytics.KindDecision, analytics.Effect(ev.Effect)
	}
	as, err := g.analytics.Observe(aev)
	if err != nil {
		g.log.Debug("analytics rejected event", "err", err)
		return alerts
	}
	for i := range as {
		a := &as[i]
		g.log.Warn("analytics alert", "alert", fmt.Sprint(*a))
		if a.Subject != "" {
			g.risky.add(a.Subject)
		}
		aev := &Event{Time: a.Time, Kind: EventAlert, Subject: a.Subject, Device: a.Device, Reason: a.Reason, Alert: a}
		if a.SourceIP.IsValid() {
			aev.Source = a.SourceIP.String()
		}
		alerts = append(alerts, aev)
	}
	return alerts
}

// riskySubjects are the subjects whose analytics raised an alert since
// their risk score last fell to zero: the gateway reports their scores to
// its console. Safe for concurrent use.
type riskySubjects struct {
	mu sync.Mutex
	m  map[string]struct{} // guarded by mu
}

func (r *riskySubjects) add(subject string) {
	r.mu.Lock()
	if r.m == nil {
		r.m = map[string]struct{}{}
	}
	r.m[subject] = struct{}{}
	r.mu.Unlock()
}

// Risks returns the current risk of every subject whose score on the
// gateway's analytics is above zero, highest first (nil without
// analytics). Only subjects that raised an alert can score above zero,
// and those are the ones the gateway tracks; a subject whose score has
// decayed to zero is forgotten until its next alert.
func (g *Gateway) Risks() []SubjectRisk {
	if g.analytics == nil {
		return nil
	}
	r := &g.risky
	r.mu.Lock()
	names := make([]string, 0, len(r.m))
	for s := range r.m {
		names = append(names, s)
	}
	r.mu.Unlock()
	out := make([]SubjectRisk, 0, len(names))
	var zero []string
	for _, s := range names {
		risk := g.analytics.Risk(s)
		if risk.Score <= 0 {
			zero = append(zero, s)
			continue
		}
		out = append(out, SubjectRisk{Subject: s, Risk: risk})
	}
	if len(zero) > 0 {
		r.mu.Lock()
		for _, s := range zero {
			// An alert raised since the read above keeps the subject.
			if g.analytics.Risk(s).Score <= 0 {
				delete(r.m, s)
			}
		}
		r.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b SubjectRisk) int {
		if a.Score != b.Score {
			return b.Score - a.Score
		}
		return strings.Compare(a.Subject, b.Subject)
	})
	return out
}

// SubjectRisk is one subject's current risk on a gateway.
type SubjectRisk struct {
	Subject string
	analytics.Risk
}

package server

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// stats is the dashboard's stats panel.
func (s *Server) stats(r *http.Request, p *principal) ui.Stats {
	a := p.domainActor()
	sum, err := p.dom.Summary(r.Context(), a)
	if err != nil {
		return ui.Stats{Chart: ui.DecisionsChart(nil), Donut: ui.AllowDenyDonut(0, 0)}
	}
	st := ui.Stats{Decisions: sum.Decisions, Allowed: sum.Allowed, Denied: sum.Denied, Gateways: sum.Gateways, Healthy: sum.Healthy, OpenAlerts: sum.OpenAlerts, Bytes: sum.Bytes}
	bars := make([]ui.Bar, len(sum.PerMinute))
	for i, m := range sum.PerMinute {
		bars[i] = ui.Bar{Time: m.Minute, Allowed: m.Allowed, Denied: m.Denied}
	}
	if ks, err := p.dom.OwnAPIKeys(r.Context(), a); err == nil {
		for _, k := range ks {
			if k.ExpiresSoon(s.now()) {
				st.ExpiringKeys = append(st.ExpiringKeys, k.Name+" ("+when(k.Expires)+")")
			}
		}
	}
	st.Chart = ui.DecisionsChart(bars)
	st.Donut = ui.AllowDenyDonut(sum.Allowed, sum.Denied)
	for _, t := range sum.TopResources {
		st.Top = append(st.Top, ui.Count{Label: t.Resource, N: t.Count})
	}
	return st
}

// feedRow is one decision of the dashboard's feed: the subject and the
// gateway by name (n), their ids on hover.
func feedRow(n domain.Names, t time.Time, subject, resource, effect, gateway string) ui.Row {
	return ui.Row{Cells: []string{t.Format("15:04:05"), n.Of(subject), resource, effect, n.Of(gateway)},
		Titles: []string{"", n.Title(subject), "", "", n.Title(gateway)}, Tone: effect}
}

func (s *Server) pageDashboardRoutes() []route {
	return []route{
		pageRoute("GET", "/{$}", permRead, s.pageDashboard),
		pageRoute("GET", "/ui/live", permRead, s.pageLive),
	}
}

func (s *Server) pageDashboard(w http.ResponseWriter, r *http.Request, p *principal) {
	a := p.domainActor()
	// The feed is audit entries: shown to whoever may read the audit
	// log, as the live feed's decisions are.
	var feed []ui.Row
	if allowed(s.hub.event(p.tenant, controlplane.KindDecision, nil).perm, p.role) {
		ap, _ := p.dom.ListAudit(r.Context(), a, domain.AuditFilter{Action: controlplane.KindDecision, Limit: 20})
		n := p.dom.AuditNames(r.Context(), a, ap.Entries)
		for _, e := range ap.Entries {
			feed = append(feed, feedRow(n, e.Time, e.Actor, e.Resource, e.Effect, e.Gateway))
		}
	}
	var alerts []ui.Row
	if ap, err := p.dom.ListAlerts(r.Context(), a, domain.AlertQuery{State: "open", Limit: 5}); err == nil {
		ids := make([]string, len(ap.Alerts))
		for i, al := range ap.Alerts {
			ids[i] = al.Subject
		}
		n := p.dom.DisplayNames(r.Context(), a, ids)
		for _, al := range ap.Alerts {
			alerts = append(alerts, ui.Row{ID: al.ID, Href: "/alerts/" + url.PathEscape(al.ID), Tone: al.Severity, Cells: []string{al.Kind, n.Of(al.Subject) + ": " + al.Message}})
		}
	}
	s.render(w, r, http.StatusOK, ui.Dashboard(s.pageOf(r, p, "Dashboard", "dashboard"), s.stats(r, p), feed, alerts))
}

// pageLive streams the dashboard's live updates: each decision is a row
// for the feed (for those who may read the audit log: serveSSE delivers
// only what the role may see), and at most once a second, on a decision
// or a summary event, the stats panel comes along as an out-of-band swap.
func (s *Server) pageLive(w http.ResponseWriter, r *http.Request, p *principal) {
	var mu sync.Mutex
	var last time.Time
	a := p.domainActor()
	s.serveSSE(w, r, p, func(e liveEvent) (string, string, bool) {
		var b strings.Builder
		switch e.Type {
		case controlplane.KindDecision:
			ev, ok := e.Data.(gatewayEvent)
			if !ok {
				return "", "", false
			}
			subject := ev.Subject
			if subject == "" {
				subject = ev.Gateway // as stored: the gateway is the actor
			}
			n := p.dom.DisplayNames(r.Context(), a, []string{subject, ev.Gateway})
			ui.FeedRow(feedRow(n, ev.Time, subject, ev.Resource, ev.Effect, ev.Gateway)).Render(r.Context(), &b)
		case "summary":
		default:
			return "", "", false
		}
		mu.Lock()
		if time.Since(last) > time.Second {
			last = time.Now()
			mu.Unlock()
			ui.StatsOOB(s.stats(r, p)).Render(r.Context(), &b)
		} else {
			mu.Unlock()
		}
		// Unnamed: htmx swaps unnamed messages into the feed.
		return "", b.String(), b.Len() > 0
	})
}

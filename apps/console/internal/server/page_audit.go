package server

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

func (s *Server) pageAuditRoutes() []route {
	return []route{
		pageRoute("GET", "/audit", permAudit, s.pageAudit),
		pageRoute("POST", "/audit/verify", permAudit, s.pageAudit),
	}
}

func (s *Server) pageAudit(w http.ResponseWriter, r *http.Request, p *principal) {
	q := r.URL.Query()
	a := p.domainActor()
	shown, ferr := domain.ParseAuditFilter(q) // the filters as typed, for the form
	var fe *domain.InvalidError
	if ferr != nil && !errors.As(ferr, &fe) {
		s.pageError(w, r, ferr)
		return
	}
	var ap domain.AuditPage
	if fe == nil {
		var err error
		if ap, err = p.dom.ListAudit(r.Context(), a, shown); err != nil {
			s.pageError(w, r, err)
			return
		}
	}
	l := ui.Audit{List: ui.List{Page: s.pageOf(r, p, "Audit log", "audit"), Query: shown.Query,
		Table: ui.Table{Head: []string{"#", "Time", "Actor", "Action", "Resource", "Effect", "Gateway", "Detail"}},
		Filters: []ui.Field{{Name: "actor", Label: "User (email or id)", Value: shown.Actor}, {Name: "resource", Label: "Resource", Value: shown.Resource},
			{Name: "gateway", Label: "Gateway", Value: shown.Gateway},
			{Name: "effect", Label: "Effect", Options: []string{"", "allow", "deny"}, Value: shown.Effect},
			{Name: "since", Label: "Since (RFC 3339)", Value: q.Get("since")}, {Name: "until", Label: "Until", Value: q.Get("until")}}}}
	export := url.Values{}
	for _, k := range []string{"actor", "resource", "gateway", "effect", "since", "until", "q", "action"} {
		if v := q.Get(k); v != "" {
			export.Set(k, v)
		}
	}
	export.Set("format", "csv")
	csvURL := "/api/v1/audit/export?" + export.Encode()
	export.Set("format", "jsonl")
	l.Links = []ui.Link{{Label: "Export CSV", URL: csvURL}, {Label: "Export JSON lines", URL: "/api/v1/audit/export?" + export.Encode()}}
	n := p.dom.AuditNames(r.Context(), a, ap.Entries)
	for _, e := range ap.Entries {
		tone := ""
		if e.Effect == "allow" || e.Effect == "deny" {
			tone = e.Effect
		}
		l.Table.Rows = append(l.Table.Rows, ui.Row{Tone: tone,
			Cells:  []string{strconv.FormatInt(e.Seq, 10), when(e.Time), n.Of(e.Actor), e.Action, e.Resource, e.Effect, n.Of(e.Gateway), auditDetail(e, n)},
			Titles: []string{"", "", n.Title(e.Actor), "", "", "", n.Title(e.Gateway), ""}})
	}
	l.Filtered = shown.Filtered()
	if ap.Next != 0 {
		q.Set("cursor", strconv.FormatInt(ap.Next, 10))
		l.Next = "/audit?" + q.Encode()
	}
	if r.Method == http.MethodPost {
		rep, err := p.dom.VerifyAudit(r.Context(), a)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		l.Verify = &ui.VerifyResult{OK: rep.OK, Entries: rep.Entries, BrokenAt: rep.BrokenAt, Reason: rep.Reason}
	}
	status := http.StatusOK
	if fe != nil {
		// The page keeps the filters as typed and says which to fix.
		status, l.Error = http.StatusBadRequest, "Filter not applied: "+fe.Error()
	}
	s.render(w, r, status, ui.AuditPage(l))
}

// auditDetail is an entry's detail as the audit page shows it: led by
// the name of the device it names, when that device is known.
func auditDetail(e domain.AuditEntry, n domain.Names) string {
	detail := ui.Pretty(e.Detail)
	if d := e.Device(); n.Title(d) != "" {
		return "device " + n.Of(d) + " (" + d + ")\n" + detail
	}
	return detail
}

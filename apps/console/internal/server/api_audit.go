package server

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// AuditEvent is an audit entry as the API answers it: domain.AuditEntry.
type AuditEvent struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	Resource string    `json:"resource,omitempty"`
	Effect   string    `json:"effect,omitempty"`
	Gateway  string    `json:"gateway,omitempty"`
	EventID  string    `json:"event_id,omitempty"`
	// Detail is free-form JSON: the decided request, a diff summary, ...
	Detail   json.RawMessage `json:"detail,omitempty"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

func auditEventOf(e domain.AuditEntry) AuditEvent {
	return AuditEvent{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action, Resource: e.Resource, Effect: e.Effect,
		Gateway: e.Gateway, EventID: e.EventID, Detail: e.Detail, PrevHash: e.PrevHash, Hash: e.Hash}
}

// VerifyReport is the audit chain's check as the API answers it:
// domain.VerifyReport.
type VerifyReport struct {
	Entries           int64  `json:"entries"`
	OK                bool   `json:"ok"`
	BrokenAt          int64  `json:"broken_at,omitempty"`
	Reason            string `json:"reason,omitempty"`
	Head              string `json:"head"`
	Truncated         bool   `json:"truncated,omitempty"`
	Checkpoints       int    `json:"checkpoints"`
	SignedThrough     int64  `json:"signed_through,omitempty"`
	SignaturesChecked bool   `json:"signatures_checked"`
}

func (s *Server) apiAuditRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/audit", perm: permAudit, h: s.apiListAudit},
		{method: "GET", path: "/api/v1/audit/export", perm: permAudit, h: s.apiExportAudit},
		{method: "GET", path: "/api/v1/audit/verify", perm: permAudit, h: s.apiVerifyAudit},
	}
}

func (s *Server) apiListAudit(w http.ResponseWriter, r *http.Request, p *principal) {
	f, err := domain.ParseAuditFilter(r.URL.Query())
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	ap, err := p.dom.ListAudit(r.Context(), p.domainActor(), f)
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	out := page[AuditEvent]{Items: make([]AuditEvent, len(ap.Entries))}
	for i, e := range ap.Entries {
		out.Items[i] = auditEventOf(e)
	}
	if ap.Next != 0 {
		out.NextCursor = strconv.FormatInt(ap.Next, 10)
	}
	writeJSON(w, http.StatusOK, out)
}

// apiExportAudit streams every entry matching the filter as CSV or JSON
// lines (?format=csv|jsonl), newest first, page by page.
func (s *Server) apiExportAudit(w http.ResponseWriter, r *http.Request, p *principal) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "jsonl"
	}
	if format != "csv" && format != "jsonl" {
		writeError(w, http.StatusBadRequest, "invalid", "format must be csv or jsonl")
		return
	}
	f, err := domain.ParseAuditFilter(r.URL.Query(), "format")
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	// The answer starts with the first page, so that a filter the
	// console cannot apply is still answered with an error.
	var bw *bufio.Writer
	var cw *csv.Writer
	var enc *json.Encoder
	start := func() {
		stamp := s.now().Format("20060102-150405")
		if format == "csv" {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		} else {
			w.Header().Set("Content-Type", "application/x-ndjson")
		}
		w.Header().Set("Content-Disposition", `attachment; filename="gonaut-audit-`+stamp+`.`+format+`"`)
		bw = bufio.NewWriterSize(w, 64<<10)
		cw = csv.NewWriter(bw)
		if format == "csv" {
			cw.Write([]string{"seq", "time", "actor", "action", "resource", "effect", "gateway", "event_id", "detail", "prev_hash", "hash"})
		}
		enc = json.NewEncoder(bw)
	}
	err = p.dom.ExportAudit(r.Context(), p.domainActor(), f, format, func(es []domain.AuditEntry) error {
		if bw == nil {
			start()
		}
		for _, e := range es {
			if format == "csv" {
				// Every cell is escaped, not only the ones a person types:
				// effect, gateway and event id arrive from gateways too.
				row := []string{strconv.FormatInt(e.Seq, 10), e.Time.Format(time.RFC3339Nano), e.Actor, e.Action, e.Resource, e.Effect, e.Gateway, e.EventID, string(e.Detail), e.PrevHash, e.Hash}
				for i := range row {
					row[i] = csvSafe(row[i])
				}
				cw.Write(row)
			} else {
				enc.Encode(auditEventOf(e))
			}
		}
		cw.Flush()
		return nil
	})
	if bw == nil {
		if err != nil {
			s.writeProblem(w, err)
		}
		return
	}
	bw.Flush()
}

// csvSafe defuses spreadsheet formula injection: a cell that a
// spreadsheet would evaluate gets a leading quote.
func csvSafe(v string) string {
	if v != "" && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r') {
		return "'" + v
	}
	return v
}

func (s *Server) apiVerifyAudit(w http.ResponseWriter, r *http.Request, p *principal) {
	rep, err := p.dom.VerifyAudit(r.Context(), p.domainActor())
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, VerifyReport{Entries: rep.Entries, OK: rep.OK, BrokenAt: rep.BrokenAt, Reason: rep.Reason, Head: rep.Head,
		Truncated: rep.Truncated, Checkpoints: rep.Checkpoints, SignedThrough: rep.SignedThrough, SignaturesChecked: rep.SignaturesChecked})
}

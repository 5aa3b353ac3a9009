package server

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

func (s *Server) apiListAudit(w http.ResponseWriter, r *http.Request, _ *principal) {
	pf, fe := parseAuditFilter(r.URL.Query())
	if fe != nil {
		writeFieldError(w, fe)
		return
	}
	f, err := s.widenAuditFilter(r, pf)
	if err != nil {
		s.storeError(w, err)
		return
	}
	es, err := s.listAudit(r.Context(), f)
	if err != nil {
		s.storeError(w, err)
		return
	}
	p := page[store.AuditEvent]{Items: es}
	if len(es) > 0 && len(es) == clampLimit(f.Limit) {
		p.NextCursor = strconv.FormatInt(es[len(es)-1].Seq, 10)
	}
	writeJSON(w, http.StatusOK, p)
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
	pf, fe := parseAuditFilter(r.URL.Query(), "format")
	if fe != nil {
		writeFieldError(w, fe)
		return
	}
	f, err := s.widenAuditFilter(r, pf)
	if err != nil {
		s.storeError(w, err)
		return
	}
	f.Limit = 1000
	stamp := s.now().Format("20060102-150405")
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
	}
	w.Header().Set("Content-Disposition", `attachment; filename="gonaut-audit-`+stamp+`.`+format+`"`)
	bw := bufio.NewWriterSize(w, 64<<10)
	defer bw.Flush()
	cw := csv.NewWriter(bw)
	if format == "csv" {
		cw.Write([]string{"seq", "time", "actor", "action", "resource", "effect", "gateway", "event_id", "detail", "prev_hash", "hash"})
	}
	enc := json.NewEncoder(bw)
	for {
		es, err := s.listAudit(r.Context(), f)
		if err != nil {
			return
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
				enc.Encode(e)
			}
		}
		cw.Flush()
		if len(es) < f.Limit {
			break
		}
		f.Before = es[len(es)-1].Seq
	}
	s.audit(r.Context(), p.actor(), "audit.export", "", "", map[string]string{"format": format})
}

// csvSafe defuses spreadsheet formula injection: a cell that a
// spreadsheet would evaluate gets a leading quote.
func csvSafe(v string) string {
	if v != "" && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r') {
		return "'" + v
	}
	return v
}

func (s *Server) apiVerifyAudit(w http.ResponseWriter, r *http.Request, _ *principal) {
	rep, err := s.st.VerifyAuditSigned(r.Context(), s.auditPublicKey(), nil)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// Summary is the dashboard's numbers over a recent window.
type Summary struct {
	Since        time.Time       `json:"since"`
	Decisions    int             `json:"decisions"`
	Allowed      int             `json:"allowed"`
	Denied       int             `json:"denied"`
	PerMinute    []MinuteCount   `json:"per_minute"`
	TopResources []ResourceCount `json:"top_resources"`
	Bytes        int64           `json:"bytes"`
	Gateways     int             `json:"gateways"`
	Healthy      int             `json:"gateways_healthy"`
	OpenAlerts   int             `json:"open_alerts"`
}

// MinuteCount is one bar of the decisions chart.
type MinuteCount struct {
	Minute  time.Time `json:"minute"`
	Allowed int       `json:"allowed"`
	Denied  int       `json:"denied"`
}

// ResourceCount is one row of the top resources.
type ResourceCount struct {
	Resource string `json:"resource"`
	Count    int    `json:"count"`
}

// summaryCache holds the last summary for summaryTTL: opening the
// dashboard and every viewer's live update ask for it, and on a busy log
// it reads up to 20,000 entries. Concurrent requests wait for one
// reading rather than each making its own.
type summaryCache struct {
	mu     sync.Mutex
	at     time.Time // when read, on this process's clock
	minute time.Time // the minute it was read for, on the console's clock
	sum    *Summary
}

const summaryTTL = time.Second

// summary returns the dashboard's numbers, at most summaryTTL old.
func (s *Server) summary(r *http.Request) (*Summary, error) {
	c := &s.sum
	c.mu.Lock()
	defer c.mu.Unlock()
	minute := s.now().Truncate(time.Minute)
	if c.sum == nil || time.Since(c.at) >= summaryTTL || !c.minute.Equal(minute) {
		sum, err := s.readSummary(r)
		if err != nil {
			return nil, err
		}
		c.sum, c.at, c.minute = sum, time.Now(), minute
	}
	sum := *c.sum // callers may not change the shared slices
	return &sum, nil
}

// readSummary reads the last 30 minutes of decisions (at most 20,000).
func (s *Server) readSummary(r *http.Request) (*Summary, error) {
	ctx := r.Context()
	now := s.now()
	sum := &Summary{Since: now.Add(-30 * time.Minute).Truncate(time.Minute), PerMinute: []MinuteCount{}, TopResources: []ResourceCount{}}
	minutes := map[int64]*MinuteCount{}
	for m := sum.Since; !m.After(now); m = m.Add(time.Minute) {
		sum.PerMinute = append(sum.PerMinute, MinuteCount{Minute: m})
	}
	for i := range sum.PerMinute {
		minutes[sum.PerMinute[i].Minute.Unix()] = &sum.PerMinute[i]
	}
	res := map[string]int{}
	f := store.AuditFilter{Since: sum.Since, Limit: 1000}
	for range 20 {
		es, err := s.st.ListAudit(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			switch e.Action {
			case "decision":
				sum.Decisions++
				mc := minutes[e.Time.Truncate(time.Minute).Unix()]
				if e.Effect == "allow" {
					sum.Allowed++
					if mc != nil {
						mc.Allowed++
					}
				} else {
					sum.Denied++
					if mc != nil {
						mc.Denied++
					}
				}
				res[e.Resource]++
			case "flow":
				var d eventDetail
				if json.Unmarshal(e.Detail, &d) == nil {
					sum.Bytes += d.Bytes
				}
			}
		}
		if len(es) < f.Limit {
			break
		}
		f.Before = es[len(es)-1].Seq
	}
	for k, v := range res {
		sum.TopResources = append(sum.TopResources, ResourceCount{k, v})
	}
	sort.Slice(sum.TopResources, func(i, j int) bool {
		a, b := sum.TopResources[i], sum.TopResources[j]
		return a.Count > b.Count || a.Count == b.Count && a.Resource < b.Resource
	})
	if len(sum.TopResources) > 8 {
		sum.TopResources = sum.TopResources[:8]
	}
	gs, err := s.st.ListGateways(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range gs {
		if g.Revoked {
			continue
		}
		sum.Gateways++
		if now.Sub(g.LastSeen) < time.Minute {
			sum.Healthy++
		}
	}
	as, err := s.st.ListAlerts(ctx, "open", store.ListOptions{Limit: 1000})
	if err != nil {
		return nil, err
	}
	sum.OpenAlerts = len(as)
	return sum, nil
}

func (s *Server) apiSummary(w http.ResponseWriter, r *http.Request, _ *principal) {
	sum, err := s.summary(r)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sum)
}

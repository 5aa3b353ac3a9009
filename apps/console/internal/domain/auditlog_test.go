package domain

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// newInsightService is a Service over a fresh SQLite store, with opts.
func newInsightService(t *testing.T, opts Options) (*Service, *store.DB) {
	t.Helper()
	st := storetest.SQLite(t)
	s, err := New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

var auditor = Actor{ID: "u_auditor", UserID: "u_auditor", Role: RoleAuditor}

// appendAudit appends entries with the given actors and actions.
func appendAudit(t *testing.T, st *store.DB, es ...store.AuditEvent) {
	t.Helper()
	for i := range es {
		if es[i].Time.IsZero() {
			es[i].Time = time.Now()
		}
	}
	if _, _, err := st.AppendAudit(context.Background(), es); err != nil {
		t.Fatal(err)
	}
}

// auditOf returns the entries of action, newest first.
func TestParseAuditFilterNamesTheField(t *testing.T) {
	for _, c := range []struct{ query, field string }{
		{"since=yesterday", "since"},
		{"limit=0", "limit"},
		{"cursor=x", "cursor"},
		{"actr=ann", "actr"},
		{"actor=a&actor=b", "actor"},
		{"since=2026-02-01&until=2026-01-01", "since"},
	} {
		q, _ := url.ParseQuery(c.query)
		_, err := ParseAuditFilter(q)
		var invalid *InvalidError
		if !errors.As(err, &invalid) || invalid.Field != c.field {
			t.Errorf("%s: %v, want invalid %s", c.query, err, c.field)
		}
	}
	q, _ := url.ParseQuery("actor=ann&since=2026-01-01&limit=5&cursor=9&format=csv")
	f, err := ParseAuditFilter(q, "format")
	if err != nil || f.Actor != "ann" || f.Limit != 5 || f.Before != 9 || !f.Since.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || !f.Filtered() {
		t.Errorf("parsed %+v, %v", f, err)
	}
}

// TestListAuditWidensNamesAndPages: an actor given by email finds the
// entries of her id, and a full page has a cursor that continues it.
func TestListAuditWidensNamesAndPages(t *testing.T) {
	s, st := newInsightService(t, Options{})
	ctx := context.Background()
	u := &store.User{Email: "ann@example.com", Role: RoleViewer}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	appendAudit(t, st,
		store.AuditEvent{Actor: u.ID, Action: "decision", Resource: "wiki", Effect: "allow"},
		store.AuditEvent{Actor: "u_other", Action: "decision", Resource: "wiki", Effect: "deny"},
		store.AuditEvent{Actor: u.ID, Action: "decision", Resource: "git", Effect: "allow"},
	)
	p, err := s.ListAudit(ctx, auditor, AuditFilter{Actor: "ann@example.com", Limit: 1})
	if err != nil || len(p.Entries) != 1 || p.Entries[0].Actor != u.ID || p.Entries[0].Resource != "git" || p.Next == 0 {
		t.Fatalf("first page: %+v, %v", p, err)
	}
	p, err = s.ListAudit(ctx, auditor, AuditFilter{Actor: "ann@example.com", Limit: 1, Before: p.Next})
	if err != nil || len(p.Entries) != 1 || p.Entries[0].Resource != "wiki" {
		t.Fatalf("second page: %+v, %v", p, err)
	}
	if p, _ := s.ListAudit(ctx, auditor, AuditFilter{Actor: "nobody@example.com"}); len(p.Entries) != 0 || p.Next != 0 {
		t.Errorf("an unknown name found %+v", p)
	}
}

// TestExportAuditRecordsOnce: a complete export is recorded once with
// its format; one cut short by its writer is not recorded.
func TestExportAuditRecordsOnce(t *testing.T) {
	s, st := newInsightService(t, Options{})
	ctx := context.Background()
	for range 3 {
		appendAudit(t, st, store.AuditEvent{Actor: "u_a", Action: "decision", Effect: "allow"})
	}
	var got int
	if err := s.ExportAudit(ctx, auditor, AuditFilter{Action: "decision"}, "csv", func(es []AuditEntry) error { got += len(es); return nil }); err != nil || got != 3 {
		t.Fatalf("export: %d entries, %v", got, err)
	}
	es := auditOf(t, st, "audit.export")
	if len(es) != 1 || es[0].Actor != auditor.ID || string(es[0].Detail) != `{"format":"csv"}` {
		t.Fatalf("audit.export entries %+v", es)
	}
	stop := errors.New("client went away")
	if err := s.ExportAudit(ctx, auditor, AuditFilter{}, "jsonl", func([]AuditEntry) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("cut-short export: %v", err)
	}
	if es := auditOf(t, st, "audit.export"); len(es) != 1 {
		t.Errorf("a cut-short export was recorded: %+v", es)
	}
}

func TestVerifyAudit(t *testing.T) {
	s, st := newInsightService(t, Options{})
	appendAudit(t, st, store.AuditEvent{Actor: "u_a", Action: "login"})
	rep, err := s.VerifyAudit(context.Background(), auditor)
	if err != nil || !rep.OK || rep.Entries != 1 || rep.SignaturesChecked {
		t.Errorf("verify: %+v, %v", rep, err)
	}
}

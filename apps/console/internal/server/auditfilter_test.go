package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// TestAuditFiltersRefuseWhatTheyCannotParse sends filters the audit log
// used to ignore (a time in words, a limit that is not a number, a
// misspelt parameter): the API answers 400 naming the parameter, the page
// says so and shows no entries, and a filter that matches nothing says
// "No entries match" rather than "Nothing here yet".
func TestAuditFiltersRefuseWhatTheyCannotParse(t *testing.T) {
	e := newEnv(t, nil)
	e.mustCall(domain.RoleOperator, "PUT", "/api/v1/resources/wiki.corp", resourceRequest{Kind: "tcp", Address: "10.0.0.1:22"}, 200, nil)
	for _, c := range []struct{ query, field string }{
		{"since=yesterday", "since"},
		{"until=tomorrow", "until"},
		{"limit=abc", "limit"},
		{"limit=0", "limit"},
		{"limit=5000", "limit"},
		{"cursor=-3", "cursor"},
		{"actr=ann", "actr"},
		{"actor=a&actor=b", "actor"},
		{"since=2026-02-01&until=2026-01-01", "since"},
		{"q=" + strings.Repeat("x", 300), "q"},
	} {
		for _, path := range []string{"/api/v1/audit?", "/api/v1/audit/export?"} {
			resp := e.call(domain.RoleAuditor, "GET", path+c.query, nil, nil)
			data, _ := io.ReadAll(resp.Body)
			var got invalidField
			json.Unmarshal(data, &got)
			if resp.StatusCode != http.StatusBadRequest || got.Field != c.field {
				t.Errorf("GET %s%.60s: %d %s, want 400 on %q", path, c.query, resp.StatusCode, data, c.field)
			}
		}
		code, body := e.page(domain.RoleAuditor, "/audit?"+c.query)
		if code != http.StatusBadRequest || !strings.Contains(body, "Filter not applied: "+c.field+": ") || strings.Contains(body, "resource.put") {
			t.Errorf("page /audit?%.60s: %d, want 400 with the error and no entries", c.query, code)
		}
	}

	// What parses is applied: a date, an RFC 3339 time, a limit.
	var p page[store.AuditEvent]
	e.mustCall(domain.RoleAuditor, "GET", "/api/v1/audit?since=2000-01-01&limit=1", nil, 200, &p)
	if len(p.Items) != 1 || p.Items[0].Action != "resource.put" {
		t.Errorf("since a date, limit 1: %+v", p.Items)
	}
	e.mustCall(domain.RoleAuditor, "GET", "/api/v1/audit?since="+url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)), nil, 200, &p)
	if len(p.Items) != 0 {
		t.Errorf("since an hour ahead: %+v", p.Items)
	}
	e.mustCall(domain.RoleAuditor, "GET", "/api/v1/audit/export?format=csv&actor=apikey:test-operator", nil, 200, nil)

	if _, body := e.page(domain.RoleAuditor, "/audit?actor=nobody"); !strings.Contains(body, "No entries match these filters.") || strings.Contains(body, "Nothing here yet") {
		t.Errorf("filtered empty page does not say that no entry matches")
	}
	if _, body := e.page(domain.RoleAuditor, "/audit"); strings.Contains(body, "No entries match") || !strings.Contains(body, "resource.put") {
		t.Errorf("unfiltered page lost its entries")
	}
}

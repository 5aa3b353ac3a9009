package store_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// searchLog appends 300 entries: actors user0..user2@example.com,
// resources db-0..db-4, every third denied, and details naming a source
// address 10.0.<i%7>.<i>.
func searchLog(t *testing.T, s *store.DB) {
	t.Helper()
	var batch []store.AuditEvent
	for i := range 300 {
		batch = append(batch, store.AuditEvent{
			Time: time.Unix(1700000000+int64(i), 0), Actor: fmt.Sprintf("user%d@example.com", i%3), Action: "decision",
			Resource: fmt.Sprintf("db-%d", i%5), Effect: []string{"deny", "allow", "allow"}[i%3], EventID: fmt.Sprintf("s-%d", i),
			Detail: json.RawMessage(fmt.Sprintf(`{"source":"10.0.%d.%d:5432","rule":"Allow_Eng %d"}`, i%7, i, i)),
		})
	}
	// Entries without a detail, and one whose words only start inside
	// another word's part.
	batch = append(batch,
		store.AuditEvent{Actor: "admin@corp.example", Action: "policy.save", Resource: "eng-access", EventID: "s-policy"},
		store.AuditEvent{Actor: "system", Action: "login", Detail: json.RawMessage(`{"note":"Überprüfung"}`), EventID: "s-note"})
	if added, _, err := s.AppendAudit(ctx, batch); err != nil || added != len(batch) {
		t.Fatalf("AppendAudit = %d, %v", added, err)
	}
}

func ids(es []store.AuditEvent) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.EventID
	}
	return out
}

func TestAuditSearch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		searchLog(t, s)
		for _, tc := range []struct {
			q    string
			want int // entries found (Limit 1000)
		}{
			{"10.0.3.17:5432", 1}, // a whole address and port
			{"10.0.3.17", 3},      // an address's start: .17, .171, .178
			{"10.0.3.1", 17},      // .10, .17, and 15 of .1xx
			{"0.3.17", 3},         // a tail after a joiner
			{"0.0.3.17", 0},       // starts inside a part: no
			{"example.com", 300},  // the tail of an email address
			{"user1@example.com", 100},
			{"USER1@Example", 100}, // case-insensitive, prefix
			{"xample", 0},          // inside a word: no
			{"allow_eng", 300},     // underscore joins
			{"eng", 301},           // a part of allow_eng and of eng-access
			{"policy", 1},          // a part of policy.save
			{"corp.example", 1},    //
			{"überprüfung", 1},     // letters beyond ASCII, case folded
			{"db-4 user2", 20},     // every word must match: i%5==4 and i%3==2
			{"db-4 nosuch", 0},     //
			{"nosuchthing", 0},     // a miss
			{`"Allow_Eng 123"`, 1}, // punctuation around words is ignored
			{"rule", 0},            // detail keys are not indexed
			{"db-4 user2 " + strings.Repeat("nosuch ", 20), 0},      // a miss within the first 16 words
			{"db-4 " + strings.Repeat("user2 ", 15) + "nosuch", 20}, // the 17th word is ignored
			{"%", 0}, // only punctuation: nothing
		} {
			got, err := s.ListAudit(ctx, store.AuditFilter{Query: tc.q, Limit: 1000})
			if err != nil {
				t.Fatalf("search %q: %v", tc.q, err)
			}
			if len(got) != tc.want {
				t.Errorf("search %q found %d entries, want %d", tc.q, len(got), tc.want)
			}
		}

		// A search with filters, paged by cursor: denied entries of
		// user0 on db-2 (i%15==12 ... i%3==0, i%5==2) from 10.0.*.
		want := 0
		for i := range 300 {
			if i%3 == 0 && i%5 == 2 {
				want++
			}
		}
		for _, f := range []store.AuditFilter{
			{Query: "10.0", Actor: "user0@example.com", Resource: "db-2", Effect: "deny", Limit: 3}, // a word of many terms
			{Query: "10.0 allow_eng", Resource: "db-2", Effect: "deny", Limit: 3},
			{Query: "5432 user0", Resource: "db-2", Effect: "deny", Limit: 3}, // words of few terms
			{Query: "5432 user0", Resource: "db-2", Effect: "deny", Limit: 3, Since: time.Unix(1, 0)},
			{Query: "5432", Effect: "deny", Gateway: "", Limit: 3, Since: time.Unix(1700000000, 0)},
		} {
			// The fourth filter again with the plan for searches that
			// match many entries (a threshold of 0).
			if !f.Since.IsZero() && f.Resource != "" {
				defer store.SetFewMatches(0)()
			}
			var all []store.AuditEvent
			for range 100 {
				page, err := s.ListAudit(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, page...)
				if len(page) < f.Limit {
					break
				}
				f.Before = page[len(page)-1].Seq
			}
			n := want
			if f.Resource == "" {
				n = 100 // every denied entry
			}
			if len(all) != n {
				t.Errorf("filter %+v paged %d entries, want %d: %v", f, len(all), n, ids(all))
			}
			for i, e := range all {
				if e.Effect != "deny" || (f.Resource != "" && e.Resource != f.Resource) || (i > 0 && e.Seq >= all[i-1].Seq) {
					t.Errorf("entry %d = %+v out of filter or order", i, e)
				}
			}
		}
	})
}

// TestAuditSearchBackfill checks that entries written before the search
// index existed are found once the store is reopened (and migrated).
func TestAuditSearchBackfill(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var dsn, undo string
			if backend == "sqlite" {
				dsn = storetest.SQLiteDSN(t)
				undo = `DROP TABLE audit_fts; DELETE FROM schema_migrations WHERE version = 3;
DROP INDEX audit_actor; DROP INDEX audit_resource;
CREATE INDEX audit_actor ON audit (actor, seq); CREATE INDEX audit_resource ON audit (resource, seq);`
			} else {
				dsn = storetest.PostgresDSN(t)
				undo = `ALTER TABLE audit DROP COLUMN search; DELETE FROM schema_migrations WHERE version = 3`
			}
			s, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			searchLog(t, s)
			// Back to the schema before migration 3, entries kept.
			if _, err := s.SQL().ExecContext(ctx, undo); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s, err = store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got, err := s.ListAudit(ctx, store.AuditFilter{Query: "10.0.3.17:5432", Limit: 1000}); err != nil || len(got) != 1 || got[0].EventID != "s-17" {
				t.Errorf("after backfill: %v, %v", ids(got), err)
			}
			if got, _ := s.ListAudit(ctx, store.AuditFilter{Query: "user1@example.com", Limit: 1000}); len(got) != 100 {
				t.Errorf("after backfill found %d, want 100", len(got))
			}
			// New entries are indexed too, and the chain still holds.
			if _, _, err := s.AppendAudit(ctx, []store.AuditEvent{{Actor: "late@example.com", Action: "login"}}); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.ListAudit(ctx, store.AuditFilter{Query: "late", Limit: 10}); len(got) != 1 {
				t.Errorf("new entry found %d times", len(got))
			}
			if rep, err := s.VerifyAudit(ctx); err != nil || !rep.OK {
				t.Errorf("verify = %+v, %v", rep, err)
			}
		})
	}
}

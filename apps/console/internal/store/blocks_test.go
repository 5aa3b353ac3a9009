package store_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// windowLog appends 3,000 entries (about three blocks of the time
// index) one second apart, in batches of both append paths, with two
// out of order: entry 5 from a clock an hour ahead and entry 2,900 a
// late arrival from an hour back. It returns the entries as stored.
func windowLog(t *testing.T, s *store.DB) (base time.Time, all []store.AuditEvent) {
	t.Helper()
	base = time.Unix(1700000000, 0).UTC()
	for i := range 3000 {
		at := base.Add(time.Duration(i) * time.Second)
		switch i {
		case 5:
			at = base.Add(time.Hour + 3000*time.Second)
		case 2900:
			at = base.Add(-time.Hour)
		}
		all = append(all, store.AuditEvent{Time: at, Actor: fmt.Sprintf("u%d", i%3), Action: "decision", Resource: "r", Effect: "allow", EventID: fmt.Sprint("w", i)})
	}
	// Batches of 7 (multi-row INSERT) and 700 (COPY on PostgreSQL).
	for lo := 0; lo < len(all); {
		n := 7
		if lo/700%2 == 1 {
			n = 700
		}
		hi := min(lo+n, len(all))
		if _, _, err := s.AppendAudit(ctx, all[lo:hi]); err != nil {
			t.Fatal(err)
		}
		lo = hi
	}
	return base, all
}

// listAll pages through ListAudit with f, newest first.
func listAll(t *testing.T, s *store.DB, f store.AuditFilter) []int64 {
	t.Helper()
	f.Limit = 100
	var out []int64
	for {
		es, err := s.ListAudit(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			out = append(out, e.Seq)
		}
		if len(es) < f.Limit {
			return out
		}
		f.Before = es[len(es)-1].Seq
	}
}

// checkWindows compares time windows listed by the store with the log
// filtered here.
func checkWindows(t *testing.T, s *store.DB, base time.Time, all []store.AuditEvent) {
	t.Helper()
	sec := func(n int) time.Time { return base.Add(time.Duration(n) * time.Second) }
	for _, w := range []struct{ since, until time.Time }{
		{since: sec(2990)},
		{since: sec(1500)},
		{since: sec(-7200)},
		{since: sec(2999), until: sec(3000)},
		{since: sec(1020), until: sec(1030)},
		{until: sec(10)},
		{until: sec(-1800)},
		{since: sec(3000 + 3500)},
		{since: sec(9000)},
		{since: sec(100), until: sec(50)},
	} {
		var want []int64
		for _, e := range slices.Backward(all) {
			if (w.since.IsZero() || !e.Time.Before(w.since)) && (w.until.IsZero() || e.Time.Before(w.until)) {
				want = append(want, e.Seq)
			}
		}
		got := listAll(t, s, store.AuditFilter{Since: w.since, Until: w.until})
		if !slices.Equal(got, want) {
			t.Errorf("window %v – %v: got %d entries %v…, want %d %v…", w.since, w.until, len(got), head(got), len(want), head(want))
		}
		// The same under an actor, which walks another index.
		want = want[:0]
		for _, e := range slices.Backward(all) {
			if e.Actor == "u2" && (w.since.IsZero() || !e.Time.Before(w.since)) && (w.until.IsZero() || e.Time.Before(w.until)) {
				want = append(want, e.Seq)
			}
		}
		if got := listAll(t, s, store.AuditFilter{Actor: "u2", Since: w.since, Until: w.until}); !slices.Equal(got, want) {
			t.Errorf("u2's window %v – %v: got %d entries, want %d", w.since, w.until, len(got), len(want))
		}
	}
}

func head(s []int64) []int64 { return s[:min(len(s), 5)] }

func TestAuditTimeWindows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		base, all := windowLog(t, s)
		checkWindows(t, s, base, all)
		// Entries appended after a window was listed fall in it.
		late := []store.AuditEvent{{Time: base.Add(2 * time.Second), Actor: "u2", Action: "decision", EventID: "late"}}
		if _, _, err := s.AppendAudit(ctx, late); err != nil {
			t.Fatal(err)
		}
		all = append(all, late[0])
		checkWindows(t, s, base, all)
	})
}

// TestAuditTimeWindowsBackfill checks that the blocks of entries written
// before migration 5 are filled when the store is reopened.
func TestAuditTimeWindowsBackfill(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := storetest.SQLiteDSN(t)
			if backend == "postgres" {
				dsn = storetest.PostgresDSN(t)
			}
			s, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			base, all := windowLog(t, s)
			if _, err := s.SQL().ExecContext(ctx, `DROP TABLE audit_blocks; DELETE FROM schema_migrations WHERE version = 5`); err != nil {
				t.Fatal(err)
			}
			s.Close()
			if s, err = store.Open(ctx, dsn); err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			checkWindows(t, s, base, all)
		})
	}
}

func TestAuditAfter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		_, all := windowLog(t, s)
		mid := all[1500].Seq
		got := listAll(t, s, store.AuditFilter{After: mid})
		if len(got) != 1499 || got[0] != all[2999].Seq || got[len(got)-1] != mid+1 {
			t.Errorf("after %d: %d entries from %v", mid, len(got), head(got))
		}
		es, err := s.ListAudit(ctx, store.AuditFilter{After: mid, Actor: all[1501].Actor, Before: all[1510].Seq, Limit: 1000})
		if err != nil || len(es) != 3 {
			t.Errorf("after %d and before %d by actor: %d, %v", mid, all[1510].Seq, len(es), err)
		}
		if es, _ := s.ListAudit(ctx, store.AuditFilter{After: all[2999].Seq}); len(es) != 0 {
			t.Errorf("after the newest: %d entries", len(es))
		}
	})
}

package domain

import (
	"errors"
	"net/url"
	"testing"
)

// FuzzParseAuditFilter: any query either parses into a filter within the
// documented bounds or is refused naming a parameter of the query.
func FuzzParseAuditFilter(f *testing.F) {
	for _, s := range []string{"", "since=yesterday", "limit=abc", "actr=x", "since=2026-01-01&until=2026-01-02", "limit=1000&cursor=9", "since=2026-01-01T00:00:00Z", "q=%ff", "a=1&a=2", "limit=-1", "cursor=0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		flt, err := ParseAuditFilter(q, "format")
		if err != nil {
			fe, ok := errors.AsType[*InvalidError](err)
			if !ok {
				t.Fatalf("%q: refused with %v, not an InvalidError", raw, err)
			}
			if _, ok := q[fe.Field]; !ok && fe.Field != "since" {
				t.Fatalf("%q: refused on %q, which the query does not have", raw, fe.Field)
			}
			return
		}
		if flt.Limit < 0 || flt.Limit > 1000 || flt.Before < 0 {
			t.Fatalf("%q: limit %d, cursor %d out of bounds", raw, flt.Limit, flt.Before)
		}
		if !flt.Since.IsZero() && !flt.Until.IsZero() && flt.Since.After(flt.Until) {
			t.Fatalf("%q: since after until accepted", raw)
		}
		for k := range q {
			if !AuditFilterParams[k] && k != "format" {
				t.Fatalf("%q: unknown parameter %q accepted", raw, k)
			}
		}
	})
}

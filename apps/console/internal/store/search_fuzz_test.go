package store

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// FuzzSearchWords checks, for any text (a search arrives from the
// network), that the search's words are safe to quote in FTS5 and
// tsquery syntax, and that searching an entry's own text finds it.
func FuzzSearchWords(f *testing.F) {
	for _, s := range []string{"user042@example.com", `{"source":"10.1.2.3:443"}`, `{"k":"a\u00e9b","n":-1.5e3,"x":[true,null,"\"q\""]}`, `{"unterminated`, "..--@@", "Überprüfung İstanbul", `'"\`, "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		terms := searchTerms(s)
		for _, w := range queryWords(s) {
			if w == "" || strings.ContainsAny(w, `"'\ `) {
				t.Fatalf("query word %q is empty or holds a quote, backslash or space", w)
			}
			found := false
			for _, term := range terms {
				if strings.HasPrefix(term, w) {
					found = true
					break
				}
			}
			if !found {
				t.Fatalf("word %q of %q is the start of none of its terms %q", w, s, terms)
			}
		}
		for _, term := range terms {
			if len(term) > maxTermBytes || strings.ContainsAny(term, `"'\ `) {
				t.Fatalf("term %q too long or holds a quote, backslash or space", term)
			}
		}
		// As an event's detail (from a gateway, so from the network):
		// any bytes, JSON or not, give safe terms, and a JSON string
		// value's words are found.
		for _, term := range auditTerms(&AuditEvent{Detail: []byte(s)}) {
			if term == "" || len(term) > maxTermBytes || strings.ContainsAny(term, `"'\ `) {
				t.Fatalf("detail term %q empty, too long or holds a quote, backslash or space", term)
			}
		}
		doc, _ := json.Marshal(map[string]string{"key": s})
		dterms := auditTerms(&AuditEvent{Detail: doc})
		for _, w := range queryWords(s) {
			if !slices.ContainsFunc(dterms, func(term string) bool { return strings.HasPrefix(term, w) }) {
				t.Fatalf("word %q of detail %s is the start of none of its terms %q", w, doc, dterms)
			}
		}
	})
}

package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
)

// Full-text search over the audit log.
//
// Both backends index the same terms, computed here, so that a search
// finds the same entries on either: SQLite keeps them in an FTS5 table
// (audit_fts, rowid = seq) and PostgreSQL in a tsvector column with a GIN
// index (audit.search).
//
// A word is a run of letters, digits and the joiners . - _ : @ / (so
// "10.1.2.3:443", "user042@example.com" and "res-007" are words), lower
// cased. An entry's terms are, for each word of its actor, action,
// resource and of the values in its detail (JSON; keys are left out):
// the word and each of its tails that starts after a joiner
// ("example.com", "com"). A search is split into words the same way, and
// an entry matches when every one of the search's words is the start of
// one of its terms. So "example.com", "example", "user042@ex" and
// "10.1.2" all find "user042@example.com" or "10.1.2.3", while "xample"
// or "0.1.2" (which start inside a part) do not.

// maxTermBytes bounds one term; longer words are cut (the cut word still
// matches searches for its start).
const maxTermBytes = 96

// maxTails bounds the tails and parts taken from one word, so that a
// long dotted path does not yield thousands of terms.
const maxTails = 16

func isJoiner(r rune) bool {
	switch r {
	case '.', '-', '_', ':', '@', '/':
		return true
	}
	return false
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || isJoiner(r)
}

// words splits s into lower-cased words, joiners trimmed from their
// ends.
func words(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexFunc(s, isWordRune)
		if i < 0 {
			break
		}
		s = s[i:]
		j := strings.IndexFunc(s, func(r rune) bool { return !isWordRune(r) })
		if j < 0 {
			j = len(s)
		}
		w := strings.TrimFunc(s[:j], isJoiner)
		s = s[j:]
		if w != "" {
			out = append(out, strings.ToLower(w))
		}
	}
	return out
}

// cutTerm shortens a term to maxTermBytes on a rune boundary.
func cutTerm(t string) string {
	if len(t) <= maxTermBytes {
		return t
	}
	t = t[:maxTermBytes]
	for len(t) > 0 && !utf8.ValidString(t) {
		t = t[:len(t)-1]
	}
	return strings.TrimRightFunc(t, isJoiner)
}

// searchTerms returns the distinct terms of texts, sorted: each word
// and each of its tails after a joiner. A part between joiners needs no
// term of its own: it is the start of a tail (or of the word), which is
// what a search matches.
func searchTerms(texts ...string) []string {
	var out []string
	for _, t := range texts {
		out = appendTerms(out, t)
	}
	return sortTerms(out)
}

func appendTerms(out []string, text string) []string {
	for _, w := range words(text) {
		out = appendTerm(out, w)
		n := 0
		for i, r := range w {
			if isJoiner(r) && n < maxTails {
				out = appendTerm(out, w[i+1:])
				n++
			}
		}
	}
	return out
}

func appendTerm(out []string, t string) []string {
	if t = cutTerm(strings.TrimFunc(t, isJoiner)); t != "" {
		out = append(out, t)
	}
	return out
}

func sortTerms(ts []string) []string {
	slices.Sort(ts)
	return slices.Compact(ts)
}

// auditTerms is the terms of one audit entry: of its actor, action,
// resource, and of the values (not the keys) in its detail.
func auditTerms(e *AuditEvent) []string {
	out := appendTerms(nil, e.Actor)
	out = appendTerms(out, e.Action)
	out = appendTerms(out, e.Resource)
	jsonValues(string(e.Detail), func(v string) { out = appendTerms(out, v) })
	return sortTerms(out)
}

// jsonValues calls fn with each string (unescaped) and number in a JSON
// document, skipping object keys: "source" or "rule" would match every
// entry and find nothing.
func jsonValues(doc string, fn func(string)) {
	for i := 0; i < len(doc); {
		switch c := doc[i]; {
		case c == '"':
			j, esc := i+1, false
			for j < len(doc) && doc[j] != '"' {
				if doc[j] == '\\' {
					esc = true
					j++
				}
				j++
			}
			if j >= len(doc) {
				fn(doc[i+1:]) // unterminated: not JSON, but searchable
				return
			}
			k := j + 1
			for k < len(doc) && (doc[k] == ' ' || doc[k] == '\t' || doc[k] == '\n' || doc[k] == '\r') {
				k++
			}
			if k < len(doc) && doc[k] == ':' {
				i = k + 1 // a key
				continue
			}
			v := doc[i+1 : j]
			if esc {
				var u string
				if json.Unmarshal([]byte(doc[i:j+1]), &u) == nil {
					v = u
				}
			}
			fn(v)
			i = j + 1
		case c == '-' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(doc) && strings.IndexByte("+-.eE0123456789", doc[j]) >= 0 {
				j++
			}
			fn(doc[i:j])
			i = j
		default:
			i++
		}
	}
}

// maxQueryWords bounds the words of one search that are looked up, so
// that a long search cannot make one query arbitrarily expensive; words
// past it are ignored.
const maxQueryWords = 16

// queryWords is the words of a search; an empty result (a search of only
// punctuation) matches nothing.
func queryWords(q string) []string {
	ws := words(q)
	if len(ws) > maxQueryWords {
		ws = ws[:maxQueryWords]
	}
	for i := range ws {
		ws[i] = cutTerm(ws[i])
	}
	return ws
}

// maxExpand is how many terms a searched word is spelled out into on
// SQLite; a word that begins more stays a prefix query.
const maxExpand = 32

// fewMatches is the number of matching entries up to which a search with
// an actor or resource filter collects them first (a variable for
// tests).
var fewMatches = 5000

// ftsExpansion is a search as an FTS5 MATCH expression.
type ftsExpansion struct {
	// match is "" when some word begins no term: nothing matches.
	match string
	// few says that at most fewMatches entries match (when asked), or
	// that some word stayed a prefix, which FTS5 reads in full anyway.
	few bool
}

// ftsExpand spells each word out into the terms it begins, through the
// fts5vocab table audit_fts_terms: FTS5 answers a prefix query by
// reading and merging the doclists of every matching term in full before
// returning the first row (250 ms for a word in every one of 1,000,000
// entries), but reads a whole term's doclist lazily, newest first. A
// word beginning more than maxExpand terms stays a prefix. With count,
// it also says whether few entries match, counting up to fewMatches
// entries per term, or a word stayed a prefix: collecting the matches
// once is then cheaper than a prefix query per entry.
func (s *DB) ftsExpand(ctx context.Context, ws []string, count bool) (ftsExpansion, error) {
	var x ftsExpansion
	groups := make([]string, 0, len(ws))
	least := -1 // the fewest entries any word matches, as far as counted
	wide := false
	for _, w := range ws {
		var terms []string
		next := w
		for len(terms) <= maxExpand {
			var t string
			// ">= next" seeks; "> term" would read every instance
			// of term first.
			err := s.row(ctx, s.db, `SELECT term FROM audit_fts_terms WHERE term >= ? LIMIT 1`, next).Scan(&t)
			if errors.Is(err, sql.ErrNoRows) || err == nil && !strings.HasPrefix(t, w) {
				break
			}
			if err != nil {
				return x, s.wrap(err)
			}
			terms = append(terms, t)
			next = t + "\x00"
		}
		if len(terms) == 0 {
			return ftsExpansion{}, nil
		}
		if len(terms) > maxExpand {
			groups = append(groups, `"`+w+`"*`)
			wide = true
			continue
		}
		quoted := make([]string, len(terms))
		n := 0
		for i, t := range terms {
			quoted[i] = `"` + t + `"`
			if count && n <= fewMatches {
				var c int
				if err := s.row(ctx, s.db, `SELECT count(*) FROM (SELECT 1 FROM audit_fts_terms WHERE term = ? LIMIT ?)`, t, fewMatches+1).Scan(&c); err != nil {
					return x, s.wrap(err)
				}
				n += c
			}
		}
		if count && (least < 0 || n < least) {
			least = n
		}
		groups = append(groups, "("+strings.Join(quoted, " OR ")+")")
	}
	x.match = strings.Join(groups, " AND ")
	x.few = wide || least >= 0 && least <= fewMatches
	return x, nil
}

// tsQuery is the PostgreSQL tsquery requiring every word as a prefix of
// a term: 'w1':* & 'w2':*.
// Words hold no quotes or backslashes, so quoting is safe.
func tsQuery(ws []string) string {
	var b strings.Builder
	for i, w := range ws {
		if i > 0 {
			b.WriteString(" & ")
		}
		b.WriteString(`'` + w + `':*`)
	}
	return b.String()
}

// tsVector is the tsvector text of terms.
func tsVector(terms []string) string {
	var b strings.Builder
	for i, t := range terms {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(`'` + t + `'`)
	}
	return b.String()
}

// backfillSearch indexes the entries written before the search index
// existed (migration 3), a page at a time.
func backfillSearch(ctx context.Context, s *DB, tx *sql.Tx) error {
	const page = 2000
	var last int64
	for {
		rows, err := s.query(ctx, tx, `SELECT `+auditCols+` FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`, last, page)
		if err != nil {
			return err
		}
		var es []*AuditEvent
		for rows.Next() {
			e, err := scanAudit(rows)
			if err != nil {
				rows.Close()
				return s.wrap(err)
			}
			es = append(es, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return s.wrap(err)
		}
		if len(es) == 0 {
			return nil
		}
		if s.postgres {
			var b strings.Builder
			b.WriteString(`UPDATE audit AS a SET search = CAST(v.t AS tsvector) FROM (VALUES `)
			args := make([]any, 0, 2*len(es))
			for i, e := range es {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(`(CAST(? AS BIGINT), CAST(? AS TEXT))`)
				args = append(args, e.Seq, tsVector(auditTerms(e)))
			}
			b.WriteString(`) AS v (seq, t) WHERE a.seq = v.seq`)
			if _, err := s.exec(ctx, tx, b.String(), args...); err != nil {
				return err
			}
		} else if err := s.insertFTS(ctx, tx, es); err != nil {
			return err
		}
		last = es[len(es)-1].Seq
	}
}

// insertFTS indexes entries in SQLite's audit_fts.
func (s *DB) insertFTS(ctx context.Context, tx *sql.Tx, es []*AuditEvent) error {
	const per = 400
	for len(es) > 0 {
		n := min(per, len(es))
		var b strings.Builder
		b.WriteString(`INSERT INTO audit_fts (rowid, terms) VALUES `)
		args := make([]any, 0, 2*n)
		for i, e := range es[:n] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`(?,?)`)
			args = append(args, e.Seq, strings.Join(auditTerms(e), " "))
		}
		if _, err := s.exec(ctx, tx, b.String(), args...); err != nil {
			return err
		}
		es = es[n:]
	}
	return nil
}

// pgTSVector is the terms of e as a pgx tsvector for COPY.
func pgTSVector(e *AuditEvent) pgtype.TSVector {
	terms := auditTerms(e)
	v := pgtype.TSVector{Lexemes: make([]pgtype.TSVectorLexeme, len(terms)), Valid: true}
	for i, t := range terms {
		v.Lexemes[i].Word = t
	}
	return v
}

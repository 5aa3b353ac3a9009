package domain

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// AuditEntry is one entry of the audit log: a console action or a
// gateway's event, chained to the one before it by its hash.
type AuditEntry struct {
	Seq      int64
	Time     time.Time
	Actor    string // a user id, "apikey:<id>", a gateway id, "anonymous", an email typed at login
	Action   string // decision, flow, login, policy.save, ...
	Resource string
	Effect   string
	Gateway  string
	EventID  string
	// Detail is free-form JSON: the decided request, a diff summary, ...
	Detail   json.RawMessage
	PrevHash string
	Hash     string
}

func auditEntryOf(e store.AuditEvent) AuditEntry {
	return AuditEntry{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action, Resource: e.Resource, Effect: e.Effect,
		Gateway: e.Gateway, EventID: e.EventID, Detail: e.Detail, PrevHash: e.PrevHash, Hash: e.Hash}
}

func auditEntriesOf(es []store.AuditEvent) []AuditEntry {
	out := make([]AuditEntry, len(es))
	for i, e := range es {
		out[i] = auditEntryOf(e)
	}
	return out
}

// Device is the device id the entry's detail names, "" when none.
func (e AuditEntry) Device() string {
	if len(e.Detail) == 0 {
		return ""
	}
	var d struct {
		Device string `json:"device"`
	}
	if json.Unmarshal(e.Detail, &d) != nil {
		return ""
	}
	return d.Device
}

// AuditPage is one page of the audit log.
type AuditPage struct {
	Entries []AuditEntry
	// Next is the cursor (AuditFilter.Before) of the next page; 0 when
	// this page is the last.
	Next int64
}

// storePageSize is the page size the store reads for a Limit of n: 50
// when unset, at most 1000. A page this full may have a next one.
func storePageSize(n int) int {
	if n <= 0 {
		return 50
	}
	return min(n, 1000)
}

// auditQuery is an audit filter widened to the ids its names stand for
// (see widenAudit).
type auditQuery struct {
	store.AuditFilter
	// alsoQuery are further searches whose entries count as matches
	// too: the ids a search for one name stands for.
	alsoQuery []string
}

// widenAudit lets the actor and gateway filters, and a search that is
// one name, be given as a person's names: an email, a device name, a
// gateway name, "apikey:<name>". Each is matched as given (a failed
// login to an account that does not exist names the email typed) and as
// the ids it stands for; a name nothing is called matches only itself,
// so that an unknown name finds no entries rather than all of them.
func (s *Service) widenAudit(ctx context.Context, f AuditFilter) (auditQuery, error) {
	q := auditQuery{AuditFilter: store.AuditFilter{Actor: f.Actor, Action: f.Action, Resource: f.Resource, Effect: f.Effect,
		Gateway: f.Gateway, Query: f.Query, Since: f.Since, Until: f.Until, Before: f.Before, Limit: f.Limit}}
	if f.Actor != "" {
		ids, err := s.st.NameIDs(ctx, f.Actor)
		if err != nil {
			return q, err
		}
		q.Actors = append(q.Actors, ids...)
	}
	if f.Gateway != "" {
		ids, err := s.st.NameIDs(ctx, f.Gateway)
		if err != nil {
			return q, err
		}
		q.Gateways = append(q.Gateways, ids...)
	}
	if word := strings.TrimSpace(f.Query); word != "" && !strings.ContainsAny(word, " \t") {
		ids, err := s.st.NameIDs(ctx, word)
		if err != nil {
			return q, err
		}
		q.alsoQuery = ids
	}
	return q, nil
}

// listAudit is ListAudit for q: the entries of q's filter and of each of
// its further searches, merged newest first, one page of them. Every
// search walks the same cursor, so the next page continues all of them.
func (s *Service) listAudit(ctx context.Context, q auditQuery) ([]store.AuditEvent, error) {
	es, err := s.st.ListAudit(ctx, q.AuditFilter)
	if err != nil || len(q.alsoQuery) == 0 {
		return es, err
	}
	seen := map[int64]bool{}
	for _, e := range es {
		seen[e.Seq] = true
	}
	for _, alt := range q.alsoQuery {
		f := q.AuditFilter
		f.Query = alt
		more, err := s.st.ListAudit(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, e := range more {
			if !seen[e.Seq] {
				seen[e.Seq] = true
				es = append(es, e)
			}
		}
	}
	slices.SortFunc(es, func(a, b store.AuditEvent) int { return cmp.Compare(b.Seq, a.Seq) })
	return es[:min(len(es), storePageSize(q.Limit))], nil
}

// ListAudit returns one page of the entries f selects, newest first,
// its names widened to the ids they stand for.
func (s *Service) ListAudit(ctx context.Context, _ Actor, f AuditFilter) (AuditPage, error) {
	q, err := s.widenAudit(ctx, f)
	if err != nil {
		return AuditPage{}, fromStore(err)
	}
	es, err := s.listAudit(ctx, q)
	if err != nil {
		return AuditPage{}, fromStore(err)
	}
	p := AuditPage{Entries: auditEntriesOf(es)}
	if len(es) > 0 && len(es) == storePageSize(f.Limit) {
		p.Next = es[len(es)-1].Seq
	}
	return p, nil
}

// exportPage is how many entries an export reads at a time.
const exportPage = 1000

// ExportAudit hands emit every entry f selects, newest first, a page at
// a time from f's cursor on (f's limit is ignored), and records that actor
// exported the log in format. It stops at the first error of emit or
// the store, and then records nothing: an export cut short is not one.
func (s *Service) ExportAudit(ctx context.Context, a Actor, f AuditFilter, format string, emit func([]AuditEntry) error) error {
	f.Limit = exportPage
	q, err := s.widenAudit(ctx, f)
	if err != nil {
		return fromStore(err)
	}
	for {
		es, err := s.listAudit(ctx, q)
		if err != nil {
			return fromStore(err)
		}
		if err := emit(auditEntriesOf(es)); err != nil {
			return err
		}
		if len(es) < q.Limit {
			break
		}
		q.Before = es[len(es)-1].Seq
	}
	s.record(ctx, a, "audit.export", "", "", map[string]string{"format": format})
	return nil
}

// VerifyReport is the result of walking the audit chain and its signed
// checkpoints.
type VerifyReport struct {
	Entries int64
	OK      bool
	// BrokenAt is the first entry whose hash or link does not match,
	// and Reason what is wrong with it.
	BrokenAt int64
	Reason   string
	Head     string
	// Truncated says that entries were removed from the log's end.
	Truncated bool
	// Checkpoints is how many signed checkpoints matched the chain, the
	// last of them at entry SignedThrough. SignaturesChecked is false
	// when the console has no audit key, so only their hashes were
	// compared.
	Checkpoints       int
	SignedThrough     int64
	SignaturesChecked bool
}

// VerifyAudit walks the whole audit chain and checks its checkpoints
// with the public half of Options.AuditKey.
func (s *Service) VerifyAudit(ctx context.Context, _ Actor) (VerifyReport, error) {
	rep, err := s.st.VerifyAuditSigned(ctx, s.auditPublicKey(), nil)
	if err != nil {
		return VerifyReport{}, fromStore(err)
	}
	return VerifyReport{Entries: rep.Entries, OK: rep.OK, BrokenAt: rep.BrokenAt, Reason: rep.Reason, Head: rep.Head, Truncated: rep.Truncated,
		Checkpoints: rep.Checkpoints, SignedThrough: rep.SignedThrough, SignaturesChecked: rep.SignaturesChecked}, nil
}

// auditPublicKey is the key checkpoints verify with; nil without a key.
func (s *Service) auditPublicKey() ed25519.PublicKey {
	if s.opts.AuditKey == nil {
		return nil
	}
	return s.opts.AuditKey.Public().(ed25519.PublicKey)
}

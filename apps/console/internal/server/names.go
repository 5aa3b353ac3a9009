package server

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

// Events are stored with stable ids (a user id, a device id, a gateway
// id), so that one person is one actor however her name changes; pages
// show the names people know instead, with the id on hover, and exports
// keep the ids. The names come from one batched store lookup for
// whatever a page or a live row needs that the cache below does not
// hold.

const (
	// nameTTL is how long a looked-up name is used before it is asked
	// again: a renamed device or gateway shows its new name after it.
	nameTTL = 30 * time.Second
	// maxCachedNames bounds the cache; past it, it starts afresh.
	maxCachedNames = 4096
)

// nameCache remembers id → name (or that an id has none) for nameTTL.
// It is safe for concurrent use.
type nameCache struct {
	mu      sync.Mutex
	entries map[string]cachedName // guarded by mu
}

type cachedName struct {
	name    string // "" when the store knows no such id
	expires time.Time
}

// names is a page's id → name map; of falls back to the id itself.
type names map[string]string

// of returns what to show for id: its name when it has one, else id.
func (n names) of(id string) string {
	if v := n[id]; v != "" {
		return v
	}
	return id
}

// title is the hover text for a cell showing id: the id, when what is
// shown is a name; nothing when the id is shown as it is.
func (n names) title(id string) string {
	if n[id] != "" {
		return id
	}
	return ""
}

// displayNames resolves ids through the cache, asking the store once for
// all that it misses. A store failure leaves the ids as they are: a
// page is still useful with ids on it.
func (s *Server) displayNames(ctx context.Context, ids []string) names {
	c := &s.names
	now := time.Now()
	out := names{}
	var missing []string
	c.mu.Lock()
	for _, id := range ids {
		if id == "" {
			continue
		}
		if e, ok := c.entries[id]; ok && now.Before(e.expires) {
			out[id] = e.name
			continue
		}
		missing = append(missing, id)
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return out
	}
	found, err := s.st.DisplayNames(ctx, missing)
	if err != nil {
		s.log.Warn("console: looking up names", "err", err)
		return out
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries)+len(missing) > maxCachedNames {
		c.entries = map[string]cachedName{}
	}
	for _, id := range missing {
		out[id] = found[id]
		c.entries[id] = cachedName{name: found[id], expires: now.Add(nameTTL)}
	}
	c.mu.Unlock()
	return out
}

// auditNames resolves the actors, gateways and devices of es at once.
func (s *Server) auditNames(ctx context.Context, es []store.AuditEvent) names {
	ids := make([]string, 0, 3*len(es))
	for _, e := range es {
		ids = append(ids, e.Actor, e.Gateway)
		if d := eventDevice(e); d != "" {
			ids = append(ids, d)
		}
	}
	return s.displayNames(ctx, ids)
}

// auditQuery is an audit filter as a person gave it, widened to the ids
// its names stand for (see widenAuditFilter).
type auditQuery struct {
	store.AuditFilter
	// alsoQuery are further searches whose entries count as matches
	// too: the ids a search for one name stands for.
	alsoQuery []string
}

// widenAuditFilter lets the actor and gateway filters, and a search
// that is one name, be given as a person's names: an email, a device
// name, a gateway name, "apikey:<name>". Each is matched as given (a
// failed login to an account that does not exist names the email typed)
// and as the ids it stands for; a name nothing is called matches only
// itself, so that an unknown name finds no entries rather than all of
// them.
func (s *Server) widenAuditFilter(r *http.Request, f store.AuditFilter) (auditQuery, error) {
	ctx := r.Context()
	q := auditQuery{AuditFilter: f}
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
func (s *Server) listAudit(ctx context.Context, q auditQuery) ([]store.AuditEvent, error) {
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
	return es[:min(len(es), clampLimit(q.Limit))], nil
}

// eventDevice is the device id an audit entry's detail names, if any.
func eventDevice(e store.AuditEvent) string {
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

// auditDetail is an entry's detail as the audit page shows it: led by
// the name of the device it names, when that device is known.
func auditDetail(e store.AuditEvent, n names) string {
	detail := ui.Pretty(e.Detail)
	if d := eventDevice(e); n.title(d) != "" {
		return "device " + n.of(d) + " (" + d + ")\n" + detail
	}
	return detail
}

package domain

import (
	"context"
	"sync"
	"time"
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

// Names maps ids to what people call them; an id without a name maps to
// "" or is missing.
type Names map[string]string

// Of returns what to show for id: its name when it has one, else id.
func (n Names) Of(id string) string {
	if v := n[id]; v != "" {
		return v
	}
	return id
}

// Title is the hover text for a cell showing id: the id, when what is
// shown is a name; "" when the id is shown as it is.
func (n Names) Title(id string) string {
	if n[id] != "" {
		return id
	}
	return ""
}

// DisplayNames resolves ids to names, asking the store once for all
// that the cache misses. A store failure leaves the ids as they are
// (and is logged): a page is still useful with ids on it.
func (s *Service) DisplayNames(ctx context.Context, _ Actor, ids []string) Names {
	return s.displayNames(ctx, ids)
}

func (s *Service) displayNames(ctx context.Context, ids []string) Names {
	c := &s.names
	now := time.Now()
	out := Names{}
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

// AuditNames resolves the actors, gateways and devices of es at once.
func (s *Service) AuditNames(ctx context.Context, _ Actor, es []AuditEntry) Names {
	ids := make([]string, 0, 3*len(es))
	for _, e := range es {
		ids = append(ids, e.Actor, e.Gateway)
		if d := e.Device(); d != "" {
			ids = append(ids, d)
		}
	}
	return s.displayNames(ctx, ids)
}

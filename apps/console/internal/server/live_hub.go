package server

import (
	"sync"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// A liveEvent is one live update: a gateway event (decision, flow,
// revoke, alert, device_present, device_absent), a gateway status, a
// configuration change, or "summary" (new decisions moved the
// dashboard's numbers).
type liveEvent struct {
	Type string `json:"type"`
	Data any    `json:"data"`
	// tenant is the tenant whose data the event carries: only that
	// tenant's subscribers receive it. perm is who among them may see
	// it: the permission of the route that serves the same data (see
	// live_perm.go). Events are made by hub.event, which sets both.
	tenant string
	perm   perm
}

// hub fans live events out to subscribers (SSE and WebSocket streams) and
// tracks each tenant's configuration version for bundle long-polls. A
// slow subscriber loses events rather than slowing the publisher.
//
// Every piece of per-tenant state is keyed by the tenant id, one of
// principal.tenant, and an event reaches a subscriber only when both
// tenants are the same string: events never cross tenants.
type hub struct {
	// poke wakes watchConfig; dirty (under mu) says which tenants'
	// versions to re-read.
	poke chan struct{}
	// relay, when not nil, takes a copy of every event published here
	// for the other console replicas (see live_relay.go); full, it drops.
	relay chan liveEvent

	// perms is the permission of each live event type, from the route
	// table; set before the first publish and read-only after.
	perms map[string]perm

	mu       sync.Mutex // guards the fields below
	subs     map[chan liveEvent]subscriber
	versions map[string]*version
	dirty    map[string]bool
	closed   bool
	done     chan struct{}
}

// A subscriber is who a subscription's events are for.
type subscriber struct {
	tenant string
	role   domain.Role
}

// A version is one tenant's configuration version.
type version struct {
	v       int64
	changed chan struct{} // closed and replaced when v moves
}

func newHub() *hub {
	return &hub{poke: make(chan struct{}, 1), subs: map[chan liveEvent]subscriber{},
		versions: map[string]*version{}, dirty: map[string]bool{}, done: make(chan struct{})}
}

// event is a live event of tenant's, of type typ carrying data, visible
// to those of its users whose role has the permission of typ's source
// route. A type without one is visible to no role.
func (h *hub) event(tenant, typ string, data any) liveEvent {
	p, ok := h.perms[typ]
	if !ok {
		p = permNobody
	}
	return liveEvent{Type: typ, Data: data, tenant: tenant, perm: p}
}

// publish sends e to this console's subscribers and, through relay, to
// the other replicas'.
func (h *hub) publish(e liveEvent) {
	h.publishLocal(e)
	if h.relay != nil {
		select {
		case h.relay <- e:
		default:
		}
	}
}

// publishLocal sends e to this console's subscribers of its tenant whose
// role may see it.
func (h *hub) publishLocal(e liveEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c, sub := range h.subs {
		if sub.tenant != e.tenant || !allowed(e.perm, sub.role) {
			continue
		}
		select {
		case c <- e:
		default:
		}
	}
}

// subscribe returns a channel of the live events of tenant that role may
// see and a function that ends the subscription.
func (h *hub) subscribe(tenant string, role domain.Role) (chan liveEvent, func()) {
	c := make(chan liveEvent, 256)
	h.mu.Lock()
	h.subs[c] = subscriber{tenant: tenant, role: role}
	h.mu.Unlock()
	return c, func() {
		h.mu.Lock()
		delete(h.subs, c)
		h.mu.Unlock()
	}
}

// versionLocked is tenant's version, made on first use; h.mu must be
// held.
func (h *hub) versionLocked(tenant string) *version {
	v, ok := h.versions[tenant]
	if !ok {
		v = &version{changed: make(chan struct{})}
		h.versions[tenant] = v
	}
	return v
}

func (h *hub) setVersion(tenant string, v int64) {
	h.mu.Lock()
	ver := h.versionLocked(tenant)
	if v == ver.v {
		h.mu.Unlock()
		return
	}
	first := ver.v == 0
	ver.v = v
	close(ver.changed)
	ver.changed = make(chan struct{})
	h.mu.Unlock()
	if !first {
		// Each replica sees the version move itself: not relayed.
		h.publishLocal(h.event(tenant, "config", map[string]int64{"version": v}))
	}
}

// current returns tenant's version (0 until it was first read) and a
// channel closed when it next moves.
func (h *hub) current(tenant string) (int64, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v := h.versionLocked(tenant)
	return v.v, v.changed
}

// markChanged asks watchConfig to re-read tenant's version at once.
func (h *hub) markChanged(tenant string) {
	h.mu.Lock()
	h.dirty[tenant] = true
	h.mu.Unlock()
	select {
	case h.poke <- struct{}{}:
	default:
	}
}

// markAllChanged asks watchConfig to re-read every version it tracks.
func (h *hub) markAllChanged() {
	h.mu.Lock()
	for t := range h.versions {
		h.dirty[t] = true
	}
	h.mu.Unlock()
	select {
	case h.poke <- struct{}{}:
	default:
	}
}

// toRead returns the tenants whose versions watchConfig should re-read:
// the dirty ones, or with all every tenant tracked; it clears dirty.
func (h *hub) toRead(all bool) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	if all {
		for t := range h.versions {
			out = append(out, t)
		}
		// The default tenant is always watched, as it always was.
		if _, ok := h.versions[domain.DefaultTenant]; !ok {
			out = append(out, domain.DefaultTenant)
		}
	} else {
		for t := range h.dirty {
			out = append(out, t)
		}
	}
	clear(h.dirty)
	return out
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}

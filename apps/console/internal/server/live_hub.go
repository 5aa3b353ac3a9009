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
	// perm is who may see the event: the permission of the route that
	// serves the same data (see live_perm.go). Events are made by
	// hub.event, which sets it.
	perm perm
}

// hub fans live events out to subscribers (SSE and WebSocket streams) and
// tracks the configuration version for bundle long-polls. A slow
// subscriber loses events rather than slowing the publisher.
type hub struct {
	poke chan struct{}
	// relay, when not nil, takes a copy of every event published here
	// for the other console replicas (see live_relay.go); full, it drops.
	relay chan liveEvent

	// perms is the permission of each live event type, from the route
	// table; set before the first publish and read-only after.
	perms map[string]perm

	mu      sync.Mutex // guards the fields below
	subs    map[chan liveEvent]domain.Role
	version int64
	changed chan struct{} // closed and replaced when version moves
	closed  bool
	done    chan struct{}
}

func newHub() *hub {
	return &hub{poke: make(chan struct{}, 1), subs: map[chan liveEvent]domain.Role{}, changed: make(chan struct{}), done: make(chan struct{})}
}

// event is a live event of type typ carrying data, visible to those
// whose role has the permission of typ's source route. A type without
// one is visible to no role.
func (h *hub) event(typ string, data any) liveEvent {
	p, ok := h.perms[typ]
	if !ok {
		p = permNobody
	}
	return liveEvent{Type: typ, Data: data, perm: p}
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

// publishLocal sends e to this console's subscribers whose role may
// see it.
func (h *hub) publishLocal(e liveEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c, role := range h.subs {
		if !allowed(e.perm, role) {
			continue
		}
		select {
		case c <- e:
		default:
		}
	}
}

// subscribe returns a channel of the live events role may see and a
// function that ends the subscription.
func (h *hub) subscribe(role domain.Role) (chan liveEvent, func()) {
	c := make(chan liveEvent, 256)
	h.mu.Lock()
	h.subs[c] = role
	h.mu.Unlock()
	return c, func() {
		h.mu.Lock()
		delete(h.subs, c)
		h.mu.Unlock()
	}
}

func (h *hub) setVersion(v int64) {
	h.mu.Lock()
	if v == h.version {
		h.mu.Unlock()
		return
	}
	first := h.version == 0
	h.version = v
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
	if !first {
		// Each replica sees the version move itself: not relayed.
		h.publishLocal(h.event("config", map[string]int64{"version": v}))
	}
}

// current returns the version and a channel closed when it next moves.
func (h *hub) current() (int64, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.version, h.changed
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}

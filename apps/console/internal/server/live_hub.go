package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

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
	// serves the same data (see liveperm.go). Events are made by
	// hub.event, which sets it.
	perm perm
}

// hub fans live events out to subscribers (SSE and WebSocket streams) and
// tracks the configuration version for bundle long-polls. A slow
// subscriber loses events rather than slowing the publisher.
type hub struct {
	poke chan struct{}
	// relay, when not nil, takes a copy of every event published here
	// for the other console replicas (see relay.go); full, it drops.
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

// serveSSE streams live events as Server-Sent Events until the client
// goes or the server closes. Each event's name is its type, so htmx's SSE
// clients can tell "decision", "alert", ... apart; render turns an event
// into its name and data (JSON for API clients, an HTML fragment for
// pages). An empty name sends an unnamed message, which is what htmx's
// SSE extension swaps into the page. Only the events p's role may see
// reach render.
func (s *Server) serveSSE(w http.ResponseWriter, r *http.Request, p *principal, render func(liveEvent) (string, string, bool)) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "internal", "streaming unsupported")
		return
	}
	c, unsub := s.hub.subscribe(p.role)
	defer unsub()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": gonaut live\n\n")
	fl.Flush()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.hub.done:
			return
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
		case e := <-c:
			name, data, ok := render(e)
			if !ok {
				continue
			}
			if name != "" {
				fmt.Fprintf(w, "event: %s\n", name)
			}
			for _, line := range splitLines(data) {
				fmt.Fprintf(w, "data: %s\n", line)
			}
			fmt.Fprint(w, "\n")
		}
		fl.Flush()
	}
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func jsonEvent(e liveEvent) (string, string, bool) {
	b, err := json.Marshal(e)
	return e.Type, string(b), err == nil
}

// serveWS streams the live events p's role may see as JSON text messages
// over a WebSocket.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request, p *principal) {
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	c, unsub := s.hub.subscribe(p.role)
	defer unsub()
	ctx := conn.CloseRead(r.Context())
	for {
		select {
		case <-ctx.Done():
			conn.Close(websocket.StatusNormalClosure, "")
			return
		case <-s.hub.done:
			conn.Close(websocket.StatusGoingAway, "console closing")
			return
		case e := <-c:
			b, _ := json.Marshal(e)
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := conn.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				return
			}
		}
	}
}

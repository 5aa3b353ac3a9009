package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// liveRoutes are the live streams: Server-Sent Events of JSON for the
// API (the pages' stream is /ui/live, page_dashboard.go) and a WebSocket.
func (s *Server) liveRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/stream", perm: permRead, h: func(w http.ResponseWriter, r *http.Request, p *principal) { s.serveSSE(w, r, p, jsonEvent) }},
		{method: "GET", path: "/ws", perm: permRead, h: s.serveWS},
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
	c, unsub := s.hub.subscribe(p.tenant, p.role)
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
	c, unsub := s.hub.subscribe(p.tenant, p.role)
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

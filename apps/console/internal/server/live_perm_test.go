package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// liveReader collects the messages of one live stream opened over HTTP.
type liveReader struct {
	msgs chan string
}

// openSSE opens an SSE stream at path as role and collects each
// message's data (with its event name, when it has one, on a first line).
func openSSE(t *testing.T, ctx context.Context, e *env, base, path string, role domain.Role) *liveReader {
	t.Helper()
	return openSSEWith(t, ctx, base, path, e.keys[role])
}

// openSSEWith is openSSE with a bearer secret.
func openSSEWith(t *testing.T, ctx context.Context, base, path, bearer string) *liveReader {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %v %v", path, resp, err)
	}
	lr := &liveReader{msgs: make(chan string, 1024)}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var cur strings.Builder
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.Len() > 0 {
					lr.msgs <- cur.String()
					cur.Reset()
				}
			case strings.HasPrefix(line, "event: "), strings.HasPrefix(line, "data: "):
				cur.WriteString(line + "\n")
			}
		}
		close(lr.msgs)
	}()
	return lr
}

// openWS opens /ws as role and collects its messages.
func openWS(t *testing.T, ctx context.Context, e *env, base string, role domain.Role) *liveReader {
	t.Helper()
	return openWSWith(t, ctx, base, e.keys[role])
}

// openWSWith is openWS with a bearer secret.
func openWSWith(t *testing.T, ctx context.Context, base, bearer string) *liveReader {
	t.Helper()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + bearer}},
	})
	if err != nil {
		t.Fatalf("/ws: %v", err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	lr := &liveReader{msgs: make(chan string, 1024)}
	go func() {
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				close(lr.msgs)
				return
			}
			lr.msgs <- string(data)
		}
	}()
	return lr
}

// until returns the messages up to and including the first one holding
// marker.
func (lr *liveReader) until(t *testing.T, what, marker string) []string {
	t.Helper()
	var got []string
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-lr.msgs:
			if !ok {
				t.Fatalf("%s: stream ended before %q; got %q", what, marker, got)
			}
			got = append(got, m)
			if strings.Contains(m, marker) {
				return got
			}
		case <-deadline:
			t.Fatalf("%s: no %q within 10s; got %q", what, marker, got)
		}
	}
}

// TestViewersSeeNoDecisionsLive: the route table keeps the audit log
// from viewers, so the live streams (SSE, /ws and the dashboard's feed)
// do too. A gateway posts a decision, a flow and an alert, then a status;
// an admin's streams carry all four, a viewer's the status alone, in the
// same order (so the others cannot be merely late). The dashboard page
// lists the decision for the admin only.
func TestViewersSeeNoDecisionsLive(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	t.Cleanup(hs.Close)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t.Cleanup(func() { cancel(); hs.CloseClientConnections() })
	// Ada is in the decisions only; Carol's alert is also in the alert
	// list, which any role may read.
	var ada, carol store.User
	e.httpAPI(hs.URL, domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "ada@example.com", Role: domain.RoleViewer, Password: "correct horse battery"}, 201, &ada)
	e.httpAPI(hs.URL, domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "carol@example.com", Role: domain.RoleViewer, Password: "correct horse battery"}, 201, &carol)
	g := registerGatewayHTTP(t, e, hs.URL, "edge-live")

	type stream struct {
		name string
		role domain.Role
		lr   *liveReader
	}
	var streams []stream
	for _, role := range []domain.Role{domain.RoleAdmin, domain.RoleViewer} {
		streams = append(streams,
			stream{"SSE", role, openSSE(t, ctx, e, hs.URL, "/api/v1/stream", role)},
			stream{"ws", role, openWS(t, ctx, e, hs.URL, role)})
	}
	time.Sleep(200 * time.Millisecond) // let the subscriptions start

	now := time.Now().UTC()
	raw, _ := json.Marshal(controlplane.EventBatch{Events: []controlplane.Event{
		{ID: "d1", Time: now, Kind: "decision", Subject: ada.ID, Resource: "secret-wiki", Effect: "allow"},
		{ID: "f1", Time: now, Kind: "flow", Subject: ada.ID, Resource: "secret-wiki", Effect: "allow", Bytes: 42},
		{ID: "a1", Time: now, Kind: "alert", Subject: carol.ID, Message: "denial burst", Alert: &controlplane.Alert{Detector: "denial_burst", Severity: "high", Score: 50}},
	}})
	if ack := g.events(raw); ack.Accepted != 3 {
		t.Fatalf("ack %+v", ack)
	}
	if code, body := g.post("/cp/v1/status", controlplane.Status{BundleVersion: 1, Message: "sentinel-status"}); code != 204 {
		t.Fatalf("status: %d %s", code, body)
	}
	for _, s := range streams {
		got := strings.Join(s.lr.until(t, s.name+" as "+string(s.role), "sentinel-status"), "\n")
		for _, typ := range []string{"decision", "flow", "alert"} {
			has := strings.Contains(got, `"type":"`+typ+`"`)
			if want := s.role == domain.RoleAdmin; has != want {
				t.Errorf("%s as %s: %s event received %v, want %v:\n%s", s.name, s.role, typ, has, want, got)
			}
		}
		if s.role == domain.RoleViewer && (strings.Contains(got, ada.ID) || strings.Contains(got, "secret-wiki")) {
			t.Errorf("%s as viewer leaks a decision:\n%s", s.name, got)
		}
	}

	// The dashboard's live feed: the admin gets the decision's row, the
	// viewer only the numbers (which the summary API gives any role).
	adminFeed := openSSE(t, ctx, e, hs.URL, "/ui/live", domain.RoleAdmin)
	viewerFeed := openSSE(t, ctx, e, hs.URL, "/ui/live", domain.RoleViewer)
	time.Sleep(200 * time.Millisecond)
	raw, _ = json.Marshal(controlplane.EventBatch{Events: []controlplane.Event{{ID: "d2", Time: time.Now().UTC(), Kind: "decision", Subject: ada.ID, Resource: "other-wiki", Effect: "deny"}}})
	if ack := g.events(raw); ack.Accepted != 1 {
		t.Fatalf("ack %+v", ack)
	}
	adminFeed.until(t, "/ui/live as admin", ada.ID)
	got := strings.Join(viewerFeed.until(t, "/ui/live as viewer", "data: "), "\n")
	if strings.Contains(got, ada.ID) {
		t.Errorf("/ui/live as viewer carries the decision's row:\n%s", got)
	}

	// The dashboard page's feed is the audit log's decisions.
	for role, want := range map[domain.Role]bool{domain.RoleAdmin: true, domain.RoleAuditor: true, domain.RoleViewer: false, domain.RoleOperator: false} {
		code, body := e.page(role, "/")
		if code != 200 {
			t.Fatalf("dashboard as %s: %d", role, code)
		}
		if has := strings.Contains(body, ada.ID); has != want {
			t.Errorf("dashboard as %s lists the decision: %v, want %v", role, has, want)
		}
	}
}

// TestEveryLiveTypeHasARoute: every live event type takes its
// permission from a route of the table, and a type the console does not
// know is shown to no one.
func TestEveryLiveTypeHasARoute(t *testing.T) {
	e := newEnv(t, nil)
	for _, typ := range liveTypes() {
		if p := e.srv.hub.event(domain.DefaultTenant, typ, nil).perm; p == "" || p == permNobody {
			t.Errorf("live type %s has no permission", typ)
		}
	}
	ev := e.srv.hub.event(domain.DefaultTenant, "forged", nil)
	for _, role := range domain.Roles {
		if allowed(ev.perm, role) {
			t.Errorf("an unknown live type is shown to %s", role)
		}
	}
	if !allowed(e.srv.hub.event(domain.DefaultTenant, "decision", nil).perm, domain.RoleAuditor) || allowed(e.srv.hub.event(domain.DefaultTenant, "decision", nil).perm, domain.RoleViewer) {
		t.Errorf("decisions follow %s's permission: auditors yes, viewers no", auditRoute)
	}
}

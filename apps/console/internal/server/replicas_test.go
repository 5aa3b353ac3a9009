package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// replicaLatency is how long a live event or a configuration change may
// take from one replica to another in TestReplicasShareLiveEvents: a
// notification takes milliseconds; the margin is for a loaded machine.
const replicaLatency = 2 * time.Second

// TestReplicasShareLiveEvents runs two consoles over one PostgreSQL
// schema, as two replicas behind a load balancer do: decisions and
// gateway status received by A reach B's live subscribers, and a change
// made through A wakes a gateway's bundle long-poll on B. The
// configuration poll is set to a minute, so only LISTEN/NOTIFY can be
// that prompt.
func TestReplicasShareLiveEvents(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	stores := map[*Server]store.Store{} // each replica's own connection
	open := func() *Server {
		st, err := store.Open(bg, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		srv, err := New(st, &Options{ConfigPoll: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		stores[srv] = st
		select {
		case <-srv.listening:
		case <-time.After(30 * time.Second):
			t.Fatal("replica not listening")
		}
		return srv
	}
	a, b := open(), open()
	do := func(srv *Server, method, path, auth string, body any) *httptest.ResponseRecorder {
		t.Helper()
		data, _ := json.Marshal(body)
		req := httptest.NewRequest(method, path, bytes.NewReader(data))
		req.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		return w
	}
	_, key, err := a.CreateAPIKey(bg, "admin", domain.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := a.AddGateway(bg, "gw-a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	w := do(a, "POST", "/cp/v1/register", "", controlplane.RegisterRequest{Token: tok, Name: "gw-a"})
	var cred controlplane.Credential
	if err := json.Unmarshal(w.Body.Bytes(), &cred); w.Code != 200 || err != nil {
		t.Fatalf("register: %d %s", w.Code, w.Body)
	}

	live, unsub := b.hub.subscribe(domain.DefaultTenant, domain.RoleAdmin)
	defer unsub()
	// next returns B's next live event of type typ.
	next := func(typ string) (liveEvent, time.Duration) {
		t.Helper()
		start := time.Now()
		deadline := time.After(replicaLatency)
		for {
			select {
			case e := <-live:
				if e.Type == typ {
					return e, time.Since(start)
				}
			case <-deadline:
				t.Fatalf("no %q event on replica B within %v", typ, replicaLatency)
			}
		}
	}

	// Decisions pushed to A, as the dashboard on B renders them, about
	// users of the gateway's bundle.
	var users []string
	for i := range 5 {
		u := &store.User{Email: fmt.Sprintf("user%d@example.com", i), Role: domain.RoleViewer}
		if err := stores[a].CreateUser(bg, u); err != nil {
			t.Fatal(err)
		}
		users = append(users, u.ID)
	}
	var evs []controlplane.Event
	for i := range 50 {
		evs = append(evs, controlplane.Event{ID: "e" + strconv.Itoa(i), Time: time.Now(), Kind: "decision", Subject: users[i%len(users)], Resource: "db", Effect: "allow"})
	}
	t0 := time.Now()
	if w := do(a, "POST", "/cp/v1/events", cred.Bearer(), controlplane.EventBatch{Events: evs}); w.Code != 200 {
		t.Fatalf("events: %d %s", w.Code, w.Body)
	}
	for i := range evs {
		e, _ := next("decision")
		ev, ok := e.Data.(gatewayEvent)
		if !ok || ev.ID != evs[i].ID || ev.Subject != evs[i].Subject || !ev.Time.Equal(evs[i].Time) || ev.Gateway != gatewayID(cred) {
			t.Fatalf("decision %d on B = %#v, want %+v", i, e.Data, evs[i])
		}
	}
	t.Logf("50 decisions from A reached B's subscribers in %v", time.Since(t0))

	// Gateway status sent to A.
	if w := do(a, "POST", "/cp/v1/status", cred.Bearer(), controlplane.Status{BundleVersion: 7}); w.Code != http.StatusNoContent {
		t.Fatalf("status: %d %s", w.Code, w.Body)
	}
	e, d := next("gateway")
	if m, ok := e.Data.(map[string]any); !ok || m["id"] != gatewayID(cred) {
		t.Errorf("gateway event on B = %#v", e.Data)
	}
	t.Logf("gateway status from A reached B in %v", d)

	// A gateway long-polls B; a group added through A wakes it.
	v, err := stores[a].ConfigVersion(bg)
	if err != nil {
		t.Fatal(err)
	}
	type answer struct {
		code    int
		version int64
		at      time.Time
	}
	got := make(chan answer, 1)
	go func() {
		req := httptest.NewRequest("GET", "/cp/v1/bundle?wait=30s&after="+strconv.FormatInt(v, 10), nil)
		req.Header.Set("Authorization", cred.Bearer())
		w := httptest.NewRecorder()
		b.ServeHTTP(w, req)
		var bundle controlplane.Bundle
		json.Unmarshal(w.Body.Bytes(), &bundle)
		got <- answer{w.Code, bundle.Version, time.Now()}
	}()
	// The long-poll is waiting once B's hub has a waiter... give it a
	// moment to get there; a change made before it waits is answered
	// at once, which would pass too, so this only makes the test
	// measure the wake-up.
	time.Sleep(200 * time.Millisecond)
	t1 := time.Now()
	if w := do(a, "PUT", "/api/v1/groups/eng", "Bearer "+key, map[string]string{"description": "engineers"}); w.Code != 200 {
		t.Fatalf("put group: %d %s", w.Code, w.Body)
	}
	select {
	case ans := <-got:
		if ans.code != 200 || ans.version <= v {
			t.Fatalf("long-poll on B answered %d with version %d, want 200 and > %d", ans.code, ans.version, v)
		}
		if d := ans.at.Sub(t1); d > replicaLatency {
			t.Errorf("change on A reached B's long-poll after %v", d)
		} else {
			t.Logf("change on A reached a long-poll on B in %v", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("long-poll on B not woken by a change on A")
	}
}

// TestPackRelay checks that relayed events are split into notifications
// within PostgreSQL's payload limit, in order, and that an event too
// large for any notification is dropped rather than failing the rest.
func TestPackRelay(t *testing.T) {
	var evs []liveEvent
	for i := range 300 {
		evs = append(evs, liveEvent{Type: "decision", Data: gatewayEvent{Event: controlplane.Event{ID: strconv.Itoa(i), Kind: "decision", Subject: "u_someone"}, Gateway: "g1"}})
	}
	evs = append(evs, liveEvent{Type: "alert", Data: map[string]string{"message": string(bytes.Repeat([]byte("x"), store.MaxNotifyPayload))}})
	evs = append(evs, liveEvent{Type: "gateway", Data: map[string]any{"id": "g1"}})
	payloads := packRelay("origin", evs)
	if len(payloads) < 2 {
		t.Fatalf("%d payloads for 300 events", len(payloads))
	}
	var got []relayItem
	for _, p := range payloads {
		if len(p) > store.MaxNotifyPayload {
			t.Errorf("payload of %d bytes", len(p))
		}
		var m relayMsg
		if err := json.Unmarshal([]byte(p), &m); err != nil || m.Origin != "origin" {
			t.Fatalf("payload %.60q: %v", p, err)
		}
		got = append(got, m.Events...)
	}
	if len(got) != 301 || got[300].Type != "gateway" {
		t.Fatalf("relayed %d events, want 301 ending with the gateway one", len(got))
	}
	for i, it := range got[:300] {
		var ev gatewayEvent
		if !it.Event || json.Unmarshal(it.Data, &ev) != nil || ev.ID != strconv.Itoa(i) || ev.Gateway != "g1" {
			t.Fatalf("event %d = %+v", i, it)
		}
	}
}

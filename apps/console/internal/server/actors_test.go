package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// TestConsoleActionsNameUserByID signs ann in over HTTP, has her save a
// policy, and has a gateway report a decision of hers: the log names her
// by her id in both (and an API key by its id, a failed login to an
// unknown account by the email typed), the audit page shows her email
// with the id on hover, and the filter by her email finds her console
// actions and her gateway-recorded traffic alike.
func TestConsoleActionsNameUserByID(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	t.Cleanup(hs.Close)
	const pw = "correct horse battery"
	var ann store.User
	e.httpAPI(hs.URL, domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "ann@example.com", Role: domain.RolePolicyEditor, Password: pw}, 201, &ann)
	e.httpAPI(hs.URL, domain.RoleOperator, "PUT", "/api/v1/resources/wiki", resourceRequest{Kind: "http", Address: "10.0.0.7:80"}, 200, nil)

	// A wrong password for her, a login to an account nobody has, then
	// her real login and a policy save.
	b := newBrowser(t, hs)
	if resp := b.login("ann@example.com", "wrong password here", ""); resp.StatusCode == http.StatusSeeOther {
		t.Fatal("a wrong password signed in")
	}
	if resp := b.login("Ghost@Example.com", pw, ""); resp.StatusCode == http.StatusSeeOther {
		t.Fatal("an unknown account signed in")
	}
	if resp := b.login("ann@example.com", pw, ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	tok := b.csrf("/policies/new")
	if resp, body := b.post("/policies/save", url.Values{"csrf": {tok}, "name": {"maint"}, "source": {closedWiki}, "message": {"close"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("policy save: %d\n%s", resp.StatusCode, body)
	}

	g := registerGatewayHTTP(t, e, hs.URL, "edge-north")
	raw, _ := json.Marshal(controlplane.EventBatch{Events: []controlplane.Event{
		{ID: "a1", Time: time.Now().UTC(), Kind: "decision", Subject: ann.ID, Resource: "wiki", Effect: "deny"},
	}})
	if ack := g.events(raw); ack.Accepted != 1 {
		t.Fatalf("ack %+v", ack)
	}

	auditAPI := func(q url.Values) []store.AuditEvent {
		t.Helper()
		var p page[store.AuditEvent]
		e.httpAPI(hs.URL, domain.RoleAuditor, "GET", "/api/v1/audit?"+q.Encode(), nil, 200, &p)
		return p.Items
	}
	actorOf := func(action string) []string {
		t.Helper()
		var out []string
		for _, a := range auditAPI(url.Values{"action": {action}}) {
			out = append(out, a.Actor)
		}
		return out
	}
	for action, want := range map[string]string{
		"policy.save":  ann.ID,
		"login":        ann.ID,
		"resource.put": e.keyActor(domain.RoleOperator),
		"user.create":  e.keyActor(domain.RoleAdmin),
	} {
		if got := actorOf(action); len(got) != 1 || got[0] != want {
			t.Errorf("%s stored with actors %q, want [%s]", action, got, want)
		}
	}
	failed := actorOf("login.failed")
	if len(failed) != 2 || failed[0] != "ghost@example.com" || failed[1] != ann.ID {
		t.Errorf("failed logins stored with actors %q, want [ghost@example.com %s]", failed, ann.ID)
	}

	// Her email finds her console actions and her gateway's decision.
	found := map[string]int{}
	for _, a := range auditAPI(url.Values{"actor": {"ann@example.com"}}) {
		found[a.Action]++
		if a.Actor != ann.ID {
			t.Errorf("actor=ann@example.com found entry %d of %q", a.Seq, a.Actor)
		}
	}
	if found["policy.save"] != 1 || found["login"] != 1 || found["login.failed"] != 1 || found["decision"] != 1 {
		t.Errorf("actor=ann@example.com found %v, want her policy save, login, failed login and decision", found)
	}
	if got := auditAPI(url.Values{"actor": {"ghost@example.com"}}); len(got) != 1 || got[0].Action != "login.failed" {
		t.Errorf("actor=ghost@example.com found %+v, want the failed login", got)
	}
	if got := auditAPI(url.Values{"actor": {"apikey:test-operator"}, "action": {"resource.put"}}); len(got) != 1 {
		t.Errorf("actor=apikey:test-operator found %+v, want the key's resource put", got)
	}

	// The page shows her email and the key's name, ids on hover.
	_, body := e.httpGet(hs.URL, domain.RoleAuditor, "/audit?actor=ann%40example.com")
	for _, want := range []string{`<td title="` + ann.ID + `">ann@example.com</td>`, "policy.save", "decision"} {
		if !strings.Contains(body, want) {
			t.Errorf("/audit?actor=ann@example.com lacks %s", want)
		}
	}
	if strings.Contains(body, ">"+ann.ID+"<") {
		t.Errorf("/audit shows her id instead of her email")
	}
	_, body = e.httpGet(hs.URL, domain.RoleAuditor, "/audit?action=resource.put")
	if want := `<td title="` + e.keyActor(domain.RoleOperator) + `">apikey:test-operator</td>`; !strings.Contains(body, want) {
		t.Errorf("/audit?action=resource.put lacks %s", want)
	}
}

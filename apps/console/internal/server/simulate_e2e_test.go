package server

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
	"github.com/gonaut/gonaut/ztna"
)

// TestSimulationReplaysGatewayTraffic is what-if simulation on real
// history: a console-managed gateway decides connections and HTTP
// requests of an enrolled device, and a draft without the rules that
// allowed them reports each of those decisions as newly denied. A decision
// recorded without its request is counted as not replayed, with why.
func TestSimulationReplaysGatewayTraffic(t *testing.T) {
	st := storetest.SQLite(t)
	e, base := listeningConsole(t, st)
	echoAddr := loopbackServer(t, nil)
	webAddr := loopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "web") }))

	var u store.User
	e.httpAPI(base, domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "ada@example.com", Role: domain.RoleViewer, Groups: []string{"eng"}, Password: "correct horse battery"}, 201, &u)
	e.httpAPI(base, domain.RolePolicyEditor, "PUT", "/api/v1/policies/access", draft{Source: e2ePolicy, Message: "v1"}, 200, nil)
	e.httpAPI(base, domain.RoleOperator, "PUT", "/api/v1/resources/web.corp", resourceRequest{Kind: "http", Address: "127.0.0.1", Port: port(t, webAddr)}, 200, nil)
	var gw gatewayCreated
	e.httpAPI(base, domain.RoleOperator, "POST", "/api/v1/gateways", gatewayRequest{Name: "edge-sim"}, 201, &gw)
	m := startManagedGateway(t, base, gw.Token, []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{echoAddr}}})
	_, cl := enrolThroughGateway(t, e, st, base, m, "ada-laptop", u.ID)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const conns, gets = 3, 4
	for i := 0; i < conns; i++ {
		c, err := cl.Dial(ctx, "tcp", "echo.corp:7")
		if err != nil {
			t.Fatalf("dial echo.corp: %v", err)
		}
		echo(t, c, "replay me")
		c.Close()
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: cl.Dial}}
	for i := 0; i < gets; i++ {
		resp, err := hc.Get("http://web.corp/page")
		if err != nil {
			t.Fatalf("GET web.corp: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET web.corp: %s", resp.Status)
		}
	}
	// A decision recorded without its request, as an older gateway sends.
	if _, _, err := st.AppendAudit(context.Background(), []store.AuditEvent{{
		EventID: "ev-without-request", Time: time.Now(), Actor: u.ID, Action: "decision", Resource: "echo.corp", Effect: "allow", Detail: []byte(`{"rule":"eng-echo"}`),
	}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the gateway's decisions in the audit log", func() bool {
		es, err := st.ListAudit(context.Background(), store.AuditFilter{Action: "decision", Limit: 100})
		return err == nil && len(es) >= conns+gets+1
	})

	var sim Simulation
	drop := "description: nothing allowed\nrules:\n  - id: none\n    effect: deny\n    when: 'false'\n"
	e.httpAPI(base, domain.RolePolicyEditor, "POST", "/api/v1/policies/simulate", draft{Name: "access", Source: drop}, 200, &sim)
	if sim.Report == nil {
		t.Fatalf("no report: %+v", sim.Validation)
	}
	if sim.Report.Total < conns+gets || sim.Report.NowDenied < conns+gets {
		t.Errorf("replayed %d, newly denied %d; want at least the %d real decisions", sim.Report.Total, sim.Report.NowDenied, conns+gets)
	}
	byRule := map[string]int{}
	for _, c := range sim.Report.Changes {
		byRule[c.Before.Rule]++
		if c.Request.Subject.ID != u.ID || c.Request.Device.ID == "" {
			t.Errorf("replayed request lost its identity: %+v", c.Request.Subject)
		}
	}
	if byRule["eng-echo"] < conns || byRule["eng-web"] < gets {
		t.Errorf("changes by rule %v, want %d eng-echo and %d eng-web", byRule, conns, gets)
	}
	if sim.Unreplayable[domain.UnreplayableMissing] != 1 {
		t.Errorf("unreplayable = %v, want the one decision without a request", sim.Unreplayable)
	}
}

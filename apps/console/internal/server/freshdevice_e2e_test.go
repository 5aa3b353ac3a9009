package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
	"github.com/gonaut/gonaut/ztna"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// freshDevicePolicy is the shape of the demo's policies (apps/console
// demo.go): a stale-posture deny and an allow for the team's office apps.
// stale is the deny rule's condition.
func freshDevicePolicy(stale string) string {
	return `description: the team's office apps, with a stale-posture rule
rules:
  - id: deny-stale-posture
    description: A posture report older than a day cannot be trusted
    effect: deny
    when: '` + stale + `'
  - id: team-apps
    effect: allow
    resources: {kind: http, names: ["*.office"]}
    when: '"team" in subject.groups'
`
}

// TestFreshDeviceThroughGateway enrols a device without posture in the
// console and opens an office app through a console-managed gateway.
// With the enterprise template's stale-posture condition the device is
// refused, and the refusal the user gets names the rule; with the demo's
// condition (stale means a report older than a day) it is let in.
func TestFreshDeviceThroughGateway(t *testing.T) {
	st := storetest.SQLite(t)
	e, base := listeningConsole(t, st)
	wiki := loopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "the office wiki") }))

	var u store.User
	e.httpAPI(base, domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "ann@example.com", Role: domain.RoleViewer, Groups: []string{"team"}, Password: "correct horse battery"}, 201, &u)
	e.httpAPI(base, domain.RolePolicyEditor, "PUT", "/api/v1/policies/office", draft{Source: freshDevicePolicy(`time - device.posture_time > duration("24h")`), Message: "template"}, 200, nil)
	var gw gatewayCreated
	e.httpAPI(base, domain.RoleOperator, "POST", "/api/v1/gateways", gatewayRequest{Name: "edge-office"}, 201, &gw)
	m := startManagedGateway(t, base, gw.Token, []ztna.ResourceConfig{{Name: "wiki.office", Kind: "http", Port: 80, Upstreams: []string{wiki}}})
	e.httpAPI(base, domain.RoleAdmin, "PUT", "/api/v1/settings/wireguard", wgSettings{Endpoint: fmt.Sprintf("127.0.0.1:%d", m.g.ListenPort())}, 200, nil)
	waitFor(t, 10*time.Second, "the gateway's status with its public key", func() bool {
		g, err := st.Gateway(context.Background(), gatewayID(m.cred))
		var s controlplane.Status
		return err == nil && json.Unmarshal(g.Status, &s) == nil && s.PublicKey == m.g.PublicKey().String()
	})
	var en Enrolment
	e.httpAPI(base, domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "ann-phone", Owner: "ann@example.com"}, 201, &en)
	ver, _ := st.ConfigVersion(context.Background())
	m.waitVersion(t, ver, 2*time.Second)
	cl := wgClient(t, en.Config)
	hc := cl.HTTPClient()
	defer hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	get := func() (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://wiki.office/", nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET wiki.office: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get(); code != http.StatusForbidden || !strings.Contains(body, "rule deny-stale-posture") {
		t.Fatalf("fresh device under the template's rule: %d %q, want 403 naming deny-stale-posture", code, body)
	}

	e.httpAPI(base, domain.RolePolicyEditor, "PUT", "/api/v1/policies/office", draft{Source: freshDevicePolicy(`device.posture_time > timestamp("1970-01-01T00:00:00Z") && time - device.posture_time > duration("24h")`), Message: "demo"}, 200, nil)
	ver, _ = st.ConfigVersion(context.Background())
	m.waitVersion(t, ver, 2*time.Second)
	if code, body := get(); code != http.StatusOK || body != "the office wiki" {
		t.Fatalf("fresh device under the demo's rule: %d %q, want the wiki", code, body)
	}
}

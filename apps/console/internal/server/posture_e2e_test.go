package server

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
	"github.com/gonaut/gonaut/ztna"
)

// The posture policy trusts only measured posture: a device whose
// posture a person typed into the console is denied.
const measuredPosturePolicy = `description: engineers reach the echo service, on posture that was measured
rules:
  - id: typed-posture
    effect: deny
    when: 'device.posture_source == "person"'
  - id: eng-echo
    effect: allow
    resources: {kind: tcp, names: [echo.corp]}
    when: '"eng" in subject.groups'
`

// TestPersonSetPostureReachesPolicy enrols a device through the console,
// dials through a console-managed gateway, then has an operator set the
// device's posture by hand (claiming in it that the device reported
// it): the gateway's bundle says a person set it, and the policy that
// denies person-set posture cuts the device off.
func TestPersonSetPostureReachesPolicy(t *testing.T) {
	st := storetest.SQLite(t)
	e, base := listeningConsole(t, st)
	echoAddr := loopbackServer(t, nil)

	var u store.User
	e.httpAPI(base, domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "ada@example.com", Role: domain.RoleViewer, Groups: []string{"eng"}, Password: "correct horse battery"}, 201, &u)
	e.httpAPI(base, domain.RolePolicyEditor, "PUT", "/api/v1/policies/access", draft{Source: measuredPosturePolicy, Message: "v1"}, 200, nil)
	var gw gatewayCreated
	e.httpAPI(base, domain.RoleOperator, "POST", "/api/v1/gateways", gatewayRequest{Name: "edge-posture"}, 201, &gw)
	m := startManagedGateway(t, base, gw.Token, []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{echoAddr}}})
	en, cl := enrolThroughGateway(t, e, st, base, m, "ada-laptop", u.ID)
	if en.Device.PostureSource != "" {
		t.Fatalf("a device enrolled without posture has posture source %q", en.Device.PostureSource)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	conn, err := cl.Dial(ctx, "tcp", "echo.corp:7")
	if err != nil {
		t.Fatalf("dial echo.corp with no posture: %v", err)
	}
	echo(t, conn, "no posture yet")

	posture := json.RawMessage(`{"managed":true,"disk_encrypted":true,"posture_source":"device"}`)
	e.httpAPI(base, domain.RoleOperator, "PATCH", "/api/v1/devices/"+en.Device.ID, devicePatch{Posture: &posture}, 200, nil)
	waitCut(t, conn, 2*time.Second)
	conn.Close()
	if c, err := cl.Dial(ctx, "tcp", "echo.corp:7"); err == nil {
		c.Close()
		t.Fatal("a device whose posture an operator typed dialled echo.corp")
	}
	waitFor(t, 10*time.Second, "the denial in the audit log", func() bool {
		es, _ := st.ListAudit(ctx, store.AuditFilter{Action: "decision", Effect: "deny", Resource: "echo.corp"})
		for _, ev := range es {
			var d struct {
				Rule string `json:"rule"`
			}
			json.Unmarshal(ev.Detail, &d)
			if d.Rule == "typed-posture" {
				return true
			}
		}
		return false
	})
}

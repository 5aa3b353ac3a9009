package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/ztna"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// TestResourcesPageListsGatewayResources runs a real gateway managed by
// the console with a resource of its own configuration: its status
// reports it, and the Resources page lists it, read-only, as the
// gateway's. A status with a malformed resource name is then posted with
// the gateway's credential over the control-plane API: it is refused, and
// the last good status stays.
func TestResourcesPageListsGatewayResources(t *testing.T) {
	e, base := listeningConsole(t, nil)

	e.httpAPI(base, domain.RoleOperator, "PUT", "/api/v1/resources/web.corp", resourceRequest{Kind: "http", Address: "127.0.0.1", Port: 8080}, 200, nil)
	var gw gatewayCreated
	e.httpAPI(base, domain.RoleOperator, "POST", "/api/v1/gateways", gatewayRequest{Name: "edge-e2e"}, 201, &gw)
	echoAddr := loopbackServer(t, nil)
	m := startManagedGateway(t, base, gw.Token, []ztna.ResourceConfig{{Name: "plc.factory", Kind: "tcp", Port: 502, Upstreams: []string{echoAddr}}})

	stored := func() controlplane.Status {
		g, err := e.st.Gateway(bg, gatewayID(m.cred))
		var s controlplane.Status
		if err != nil || json.Unmarshal(g.Status, &s) != nil {
			return controlplane.Status{}
		}
		return s
	}
	waitFor(t, 10*time.Second, "the gateway's status with its own resource", func() bool {
		return len(stored().Resources) > 0
	})
	if rs := stored().Resources; len(rs) != 1 || rs[0] != (controlplane.LocalResource{Name: "plc.factory", Kind: "tcp", Port: 502}) {
		t.Fatalf("reported resources = %+v, want only the configuration's plc.factory (not the console's web.corp)", rs)
	}

	code, body := e.httpGet(base, domain.RoleViewer, "/resources")
	if code != http.StatusOK {
		t.Fatalf("GET /resources: %d", code)
	}
	i := strings.Index(body, "plc.factory")
	if i < 0 {
		t.Fatalf("the Resources page does not list the gateway's plc.factory:\n%s", body)
	}
	tr := body[strings.LastIndex(body[:i], "<tr"):]
	tr = tr[:strings.Index(tr, "</tr>")]
	if !strings.Contains(tr, "from gateway edge-e2e") || !strings.Contains(tr, "502") {
		t.Errorf("plc.factory row does not name its gateway and port: %s", tr)
	}
	if strings.Contains(tr, "<form") {
		t.Errorf("the gateway's resource offers actions on the console's page: %s", tr)
	}
	// Operators see the row read-only too.
	_, body = e.httpGet(base, domain.RoleOperator, "/resources")
	i = strings.Index(body, "plc.factory")
	tr = body[strings.LastIndex(body[:i], "<tr"):]
	if tr = tr[:strings.Index(tr, "</tr>")]; strings.Contains(tr, "<form") {
		t.Errorf("an operator is offered actions on the gateway's resource: %s", tr)
	}

	bad := stored()
	for _, r := range []controlplane.LocalResource{
		{Name: "evil corp<script>", Kind: "tcp", Port: 1},
		{Name: "", Kind: "tcp"},
		{Name: "ok.corp", Kind: "smb"},
		{Name: "ok.corp", Kind: "tcp", Port: 70000},
	} {
		bad.Resources = []controlplane.LocalResource{r}
		data, _ := json.Marshal(bad)
		req, _ := http.NewRequest("POST", base+"/cp/v1/status", bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", m.cred.Bearer())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status with local resource %+v: %d, want 400", r, resp.StatusCode)
		}
		if rs := stored().Resources; len(rs) != 1 || rs[0].Name != "plc.factory" {
			t.Fatalf("after the refused status the stored resources are %+v, want the last good report", rs)
		}
	}
}

package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/wgquicktest"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// TestGatewayStatusCannotInjectWGQuick posts a status whose DNS carries a
// PostUp line and an extra peer through the real control-plane API: the
// console refuses it, keeps the last good report, and a device enrolled
// afterwards gets only the expected keys.
func TestGatewayStatusCannotInjectWGQuick(t *testing.T) {
	e, base := listeningConsole(t, nil)

	var created gatewayCreated
	e.mustCall(domain.RoleOperator, "POST", "/api/v1/gateways", gatewayRequest{Name: "edge-1"}, 201, &created)
	var cred controlplane.Credential
	post := func(path, bearer string, body any) (int, string) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if path == "/cp/v1/register" {
			json.Unmarshal(data, &cred)
		}
		return resp.StatusCode, string(data)
	}
	if code, body := post("/cp/v1/register", "", controlplane.RegisterRequest{Token: created.Token, Name: "edge-1"}); code != 200 {
		t.Fatalf("register: %d %s", code, body)
	}
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	good := controlplane.Status{Healthy: true, PublicKey: key, Endpoint: "gw.example.com:51820", DNS: "100.64.0.1", Routes: []string{"100.64.0.0/10"}}
	if code, body := post("/cp/v1/status", cred.Bearer(), good); code != http.StatusNoContent {
		t.Fatalf("good status: %d %s", code, body)
	}
	attacks := []controlplane.Status{
		{PublicKey: key, DNS: "100.64.0.1\nPostUp = sh -c 'id > /tmp/pwned'\n[Peer]\nPublicKey = " + key + "\nAllowedIPs = 0.0.0.0/0"},
		{PublicKey: key + "\nPostUp = id"},
		{PublicKey: key, Endpoint: "gw.example.com:51820\nPostUp = id"},
		{PublicKey: key, Routes: []string{"100.64.0.0/10\nAllowedIPs = 0.0.0.0/0"}},
		{PublicKey: key, Endpoint: "evil host:51820"},
	}
	for _, a := range attacks {
		if code, body := post("/cp/v1/status", cred.Bearer(), a); code != http.StatusBadRequest {
			t.Fatalf("status %+v: %d %s, want 400", a, code, body)
		}
	}
	g, err := e.st.Gateway(bg, created.Gateway.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kept controlplane.Status
	if err := json.Unmarshal(g.Status, &kept); err != nil || kept.DNS != good.DNS || kept.Endpoint != good.Endpoint {
		t.Fatalf("kept status %+v (%v), want the last good one", kept, err)
	}

	var u store.User
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "ada@example.com", Role: domain.RoleViewer, Password: "correct horse battery"}, 201, &u)
	var en Enrolment
	// A name that would inject a wg-quick key is refused at enrolment
	// (see fields.go); wgquick.go still strips control characters from
	// names stored before that check.
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "laptop\nPostUp = id", Owner: u.ID}, 400, nil)
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "laptop", Owner: u.ID}, 201, &en)
	if strings.Contains(en.Config, "PostUp") {
		t.Fatalf("config carries PostUp:\n%s", en.Config)
	}
	wgquicktest.CheckKeys(t, en.Config)
	if !strings.Contains(en.Config, "DNS = 100.64.0.1\n") || !strings.Contains(en.Config, "Endpoint = gw.example.com:51820\n") {
		t.Fatalf("config lost the good report:\n%s", en.Config)
	}
}

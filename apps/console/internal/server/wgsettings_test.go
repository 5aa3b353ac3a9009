package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// TestWireGuardSettingsOverHTTP edits the WireGuard settings over the API
// and the page: invalid values are refused with a message naming the
// field and change nothing; valid ones reach the next device's wg-quick
// file, and the enrolment says which gateway filled in the rest.
func TestWireGuardSettingsOverHTTP(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	var created gatewayCreated
	e.mustCall(domain.RoleOperator, "POST", "/api/v1/gateways", gatewayRequest{Name: "edge-1"}, 201, &created)
	cl, err := controlplane.New(hs.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if _, err := cl.Register(ctx, created.Token, "edge-1"); err != nil {
		t.Fatal(err)
	}
	const key = "pgy/H8Q0pHKgC3ZBnS+mohwtgY++ps7KybtXKtiWQgQ="
	if err := cl.PushStatus(ctx, controlplane.Status{PublicKey: key, Endpoint: "gw.example.com:51820", DNS: "10.77.0.1", Routes: []string{"10.77.0.0/16"}}); err != nil {
		t.Fatal(err)
	}
	addUser(t, e.st, "ada@example.com", "correct horse battery", domain.RoleAdmin)

	// Nothing stored: the gateway's report is used, and named.
	var en Enrolment
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "first", Owner: "ada@example.com"}, 201, &en)
	if !strings.Contains(en.Config, "Endpoint = gw.example.com:51820") || !strings.Contains(en.Source, "endpoint from gateway edge-1") {
		t.Fatalf("gateway values: %q\n%s", en.Source, en.Config)
	}

	good := wgSettings{Endpoint: "VPN.example.com:443", AllowedIPs: "10.0.0.0/8, 100.64.0.0/10", DNS: "10.0.0.53"}
	for _, bad := range []struct {
		ws   wgSettings
		want string
	}{
		{wgSettings{Endpoint: "vpn.example.com", AllowedIPs: good.AllowedIPs}, "endpoint"},
		{wgSettings{Endpoint: "vpn.example.com:443\nPostUp = id", DNS: good.DNS}, "endpoint"},
		{wgSettings{Endpoint: good.Endpoint, AllowedIPs: "10.0.0.0/8, everything"}, "allowed IPs"},
		{wgSettings{Endpoint: good.Endpoint, DNS: "dns.example.com"}, "DNS"},
	} {
		var apiErr apiError
		resp := e.call(domain.RoleAdmin, "PUT", "/api/v1/settings/wireguard", bad.ws, &apiErr)
		if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(apiErr.Message, bad.want) {
			t.Errorf("PUT %+v: %d %q, want 400 about %s", bad.ws, resp.StatusCode, apiErr.Message, bad.want)
		}
	}
	var stored wgSettings
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/settings/wireguard", nil, http.StatusOK, &stored)
	if stored != (wgSettings{}) {
		t.Fatalf("refused values were stored: %+v", stored)
	}
	if resp := e.call(domain.RoleOperator, "PUT", "/api/v1/settings/wireguard", good, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("operator PUT: %d, want 403", resp.StatusCode)
	}
	e.mustCall(domain.RoleAdmin, "PUT", "/api/v1/settings/wireguard", good, http.StatusOK, &stored)
	if stored.Endpoint != "vpn.example.com:443" || stored.AllowedIPs != "10.0.0.0/8, 100.64.0.0/10" {
		t.Errorf("stored = %+v", stored)
	}
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "second", Owner: "ada@example.com"}, 201, &en)
	for _, want := range []string{"Endpoint = vpn.example.com:443", "AllowedIPs = 10.0.0.0/8, 100.64.0.0/10", "DNS = 10.0.0.53", "PublicKey = " + key} {
		if !strings.Contains(en.Config, want) {
			t.Errorf("config lacks %q:\n%s", want, en.Config)
		}
	}
	if !strings.Contains(en.Source, "endpoint from the console's WireGuard settings") || !strings.Contains(en.Source, "public key from gateway edge-1") {
		t.Errorf("source = %q", en.Source)
	}

	// The page: a bad value is refused with the reason and stores nothing.
	b := newBrowser(t, hs)
	if resp := b.login("ada@example.com", "correct horse battery", ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	b.post("/settings/wireguard", url.Values{"csrf": {b.csrf("/settings/wireguard")}, "endpoint": {"nowhere"}, "allowed_ips": {""}, "dns": {""}})
	if _, page := b.get("/settings/wireguard"); !strings.Contains(page, "not saved: endpoint") {
		t.Errorf("page bad endpoint: no refusal shown:\n%s", page)
	}
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/settings/wireguard", nil, http.StatusOK, &stored)
	if stored.Endpoint != "vpn.example.com:443" {
		t.Errorf("a refused page post changed the endpoint: %+v", stored)
	}
	// Emptied on the page: back to the gateway's values.
	b.post("/settings/wireguard", url.Values{"csrf": {b.csrf("/settings/wireguard")}, "endpoint": {""}, "allowed_ips": {""}, "dns": {""}})
	if _, page := b.get("/settings/wireguard"); !strings.Contains(page, "WireGuard settings saved") {
		t.Errorf("page clear: not saved:\n%s", page)
	}
	resp, body := b.post("/devices", url.Values{"csrf": {b.csrf("/devices")}, "name": {"third"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Endpoint = gw.example.com:51820") || !strings.Contains(body, "endpoint from gateway edge-1") {
		t.Errorf("page enrolment after clearing: %d %s", resp.StatusCode, body)
	}
}

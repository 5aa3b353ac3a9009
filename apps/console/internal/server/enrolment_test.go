package server

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/wgquicktest"
	"github.com/gonaut/gonaut/tunnel"
)

// TestEnrolOwnerByEmail enrols devices for an owner given by email, over
// the API and from the Devices page, and checks the device belongs to
// that user's id; an unknown email is refused and enrols nothing.
func TestEnrolOwnerByEmail(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	ann := addUser(t, e.st, "ann@example.com", "correct horse battery", domain.RoleViewer)
	addUser(t, e.st, "ada@example.com", "correct horse battery", domain.RoleAdmin)

	var en Enrolment
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "laptop", Owner: "Ann@Example.com"}, http.StatusCreated, &en)
	if en.Device.Owner != ann.ID {
		t.Fatalf("owner = %q, want %q", en.Device.Owner, ann.ID)
	}
	var apiErr apiError
	resp := e.call(domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "x", Owner: "nobody@example.com"}, &apiErr)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(apiErr.Message, "nobody@example.com") {
		t.Fatalf("unknown email: %d %+v", resp.StatusCode, apiErr)
	}

	b := newBrowser(t, hs)
	if resp := b.login("ada@example.com", "correct horse battery", ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	tok := b.csrf("/devices")
	if resp, body := b.post("/devices", url.Values{"csrf": {tok}, "name": {"phone"}, "owner": {"ann@example.com"}}); resp.StatusCode != http.StatusOK || !strings.Contains(body, "wg-quick configuration for phone") {
		t.Fatalf("page enrol by email: %d %s", resp.StatusCode, body)
	}
	ds, err := e.st.ListDevices(bg, ann.ID, store.ListOptions{})
	if err != nil || len(ds) != 2 {
		t.Fatalf("ann's devices: %v %v", ds, err)
	}
}

// TestPrintedConfigSaysWhatDNSNeeds enrols a device from the page with a
// DNS setting: the printed config and the page say that wg-quick needs
// resolvconf (openresolv) for its DNS line, the config still parses as a
// WireGuard config, and a config without DNS carries no such note.
func TestPrintedConfigSaysWhatDNSNeeds(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	addUser(t, e.st, "ada@example.com", "correct horse battery", domain.RoleAdmin)
	b := newBrowser(t, hs)
	if resp := b.login("ada@example.com", "correct horse battery", ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	var en Enrolment
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "no-dns", Owner: "ada@example.com"}, http.StatusCreated, &en)
	if strings.Contains(en.Config, "resolvconf") {
		t.Errorf("a config without DNS talks about resolvconf:\n%s", en.Config)
	}
	e.mustCall(domain.RoleAdmin, "PUT", "/api/v1/settings/wireguard", wgSettings{DNS: "10.0.0.53", Endpoint: "vpn.example.com:51820"}, http.StatusOK, nil)
	if err := e.st.SetSetting(bg, SettingWGPublicKey, "pgy/H8Q0pHKgC3ZBnS+mohwtgY++ps7KybtXKtiWQgQ="); err != nil {
		t.Fatal(err)
	}
	resp, body := b.post("/devices", url.Values{"csrf": {b.csrf("/devices")}, "name": {"laptop"}})
	m := preBlock.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("enrol: %d %s", resp.StatusCode, body)
	}
	cfg := html.UnescapeString(m[1])
	note := strings.Index(cfg, "apt install openresolv")
	dns := strings.Index(cfg, "\nDNS = 10.0.0.53\n")
	if note < 0 || dns < 0 || note > dns {
		t.Errorf("the config does not say, before its DNS line, what wg-quick needs:\n%s", cfg)
	}
	if !strings.Contains(html.UnescapeString(body), `apt install openresolv (else it fails with "resolvconf: command not found")`) {
		t.Error("the page does not say what to install next to the config")
	}
	wgquicktest.CheckKeys(t, cfg)
	if _, err := tunnel.ReadConfig(strings.NewReader(cfg)); err != nil {
		t.Errorf("the printed config does not parse: %v\n%s", err, cfg)
	}
}

package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// TestSelfServiceDevicePages drives the Devices and Account pages as each
// role: everyone enrols their own devices from the page, a viewer's
// Devices page lists only their own devices while operators and admins
// see all, and a renewal from the page needs an MFA session and the
// user's own device.
func TestSelfServiceDevicePages(t *testing.T) {
	c := newMFAConsole(t, nil, nil)
	ann, secret, _ := c.enrolTOTP("ann@example.com")
	bA, ok := c.loginMFA("ann@example.com", mfaPassword, c.code(secret))
	if !ok {
		t.Fatal("ann's MFA login failed")
	}
	bob := addUser(t, c.st, "bob@example.com", mfaPassword, domain.RoleViewer)
	bB := newBrowser(t, c.hs)
	bB.login("bob@example.com", mfaPassword, "")
	staff := map[domain.Role]*browser{}
	for _, role := range []domain.Role{domain.RoleOperator, domain.RoleAdmin, domain.RoleAuditor, domain.RolePolicyEditor} {
		addUser(t, c.st, string(role)+"@example.com", mfaPassword, role)
		staff[role] = newBrowser(t, c.hs)
		if resp := staff[role].login(string(role)+"@example.com", mfaPassword, ""); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s login: %d", role, resp.StatusCode)
		}
	}

	if _, page := bA.get("/account"); !strings.Contains(page, `href="/devices"`) {
		t.Error("the Account page does not lead to the user's devices")
	}
	enrol := func(b *browser, name string) {
		t.Helper()
		resp, body := b.post("/devices/mine", url.Values{"csrf": {b.csrf("/devices")}, "name": {name}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "wg-quick configuration for "+name) || !strings.Contains(body, "PrivateKey = ") {
			t.Fatalf("self-enrol %s from the page: %d %s", name, resp.StatusCode, body)
		}
	}
	enrol(bA, "ann-phone")
	enrol(bB, "bob-laptop")
	enrol(staff[domain.RoleAuditor], "auditor-laptop")

	for who, b := range map[string]*browser{"viewer ann": bA, "auditor": staff[domain.RoleAuditor], "policy editor": staff[domain.RolePolicyEditor]} {
		_, page := b.get("/devices")
		if strings.Contains(page, "bob-laptop") {
			t.Errorf("%s's Devices page lists bob's device", who)
		}
	}
	if _, page := bA.get("/devices"); !strings.Contains(page, "ann-phone") {
		t.Error("ann's Devices page does not list her device")
	}
	for _, role := range []domain.Role{domain.RoleOperator, domain.RoleAdmin} {
		if _, page := staff[role].get("/devices"); !strings.Contains(page, "ann-phone") || !strings.Contains(page, "bob-laptop") {
			t.Errorf("%s's Devices page does not list every device", role)
		}
	}
	// The operators' form stays theirs.
	if resp, _ := bA.post("/devices", url.Values{"csrf": {bA.csrf("/devices")}, "name": {"x"}, "owner": {"bob@example.com"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer posting the operators' enrol form: %d, want 403", resp.StatusCode)
	}

	annDev := onlyDevice(t, c.st, ann.ID)
	bobDev := onlyDevice(t, c.st, bob.ID)
	// The REST API draws the same line as the page.
	var list struct {
		Items []store.Device `json:"items"`
	}
	if code := bA.api("GET", "/api/v1/devices?owner="+bob.ID, nil, &list); code != 200 || len(list.Items) != 1 || list.Items[0].ID != annDev.ID {
		t.Errorf("a viewer's device list over the API: %d %+v, want only her own", code, list.Items)
	}
	if code := bA.api("GET", "/api/v1/devices/"+bobDev.ID, nil, nil); code != 404 {
		t.Errorf("a viewer reading another user's device over the API: %d, want 404", code)
	}
	if code := staff[domain.RoleOperator].api("GET", "/api/v1/devices/"+bobDev.ID, nil, nil); code != 200 {
		t.Errorf("an operator reading a device over the API: %d", code)
	}
	// Renewing needs an MFA session: bob logged in with a password only.
	bB.post("/devices/mine/"+bobDev.ID+"/renew", url.Values{"csrf": {bB.csrf("/devices")}})
	if _, page := bB.get("/devices"); !strings.Contains(page, "not renewed: log in with your authenticator") {
		t.Errorf("renew without MFA: no refusal shown")
	}
	// Nobody renews someone else's device.
	bA.post("/devices/mine/"+bobDev.ID+"/renew", url.Values{"csrf": {bA.csrf("/devices")}})
	if _, page := bA.get("/devices"); !strings.Contains(page, "not renewed: no such device of yours") {
		t.Errorf("renew of another user's device: no refusal shown")
	}
	if d, _ := c.st.Device(bg, bobDev.ID); !d.MFATime.IsZero() {
		t.Error("bob's device got an MFA time")
	}
	bA.post("/devices/mine/"+annDev.ID+"/renew", url.Values{"csrf": {bA.csrf("/devices")}})
	if _, page := bA.get("/devices"); !strings.Contains(page, "Session of ann-phone renewed") {
		t.Errorf("ann's renewal: no confirmation shown")
	}
	if d, _ := c.st.Device(bg, annDev.ID); d.MFATime.IsZero() {
		t.Error("ann's renewed device has no MFA time")
	}
}

func onlyDevice(t *testing.T, st store.Store, owner string) store.Device {
	t.Helper()
	ds, err := st.ListDevices(bg, owner, store.ListOptions{})
	if err != nil || len(ds) != 1 {
		t.Fatalf("devices of %s: %v %v", owner, ds, err)
	}
	return ds[0]
}

package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// TestEnrolOwnerByEmail enrols devices for an owner given by email, over
// the API and from the Devices page, and checks the device belongs to
// that user's id; an unknown email is refused and enrols nothing.
func TestEnrolOwnerByEmail(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	ann := addUser(t, e.st, "ann@example.com", "correct horse battery", store.RoleViewer)
	addUser(t, e.st, "ada@example.com", "correct horse battery", store.RoleAdmin)

	var en Enrolment
	e.mustCall(store.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "laptop", Owner: "Ann@Example.com"}, http.StatusCreated, &en)
	if en.Device.Owner != ann.ID {
		t.Fatalf("owner = %q, want %q", en.Device.Owner, ann.ID)
	}
	var apiErr apiError
	resp := e.call(store.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "x", Owner: "nobody@example.com"}, &apiErr)
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

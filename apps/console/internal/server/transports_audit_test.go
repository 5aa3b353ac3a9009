package server

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// TestTransportsAuditAlike performs the same action once through the
// REST API and once through the pages, as an outside client does, and
// requires the audit log to record both identically (but for the thing
// acted on): each operation writes its own record in package domain, so
// a transport cannot word it differently. Before the domain layer the
// pages wrote {"disabled":true} for a user or device that the API
// recorded with the whole patch, and a resource's record differed.
func TestTransportsAuditAlike(t *testing.T) {
	e := newEnv(t, nil)
	admin := domain.RoleAdmin

	// The last audit entry with action, its resource and detail.
	last := func(action string) (string, []byte) {
		t.Helper()
		es, err := e.st.ListAudit(bg, store.AuditFilter{Action: action, Limit: 1})
		if err != nil || len(es) != 1 {
			t.Fatalf("audit %s: %v %+v", action, err, es)
		}
		return es[0].Resource, es[0].Detail
	}
	// alike requires two details to be the same once each one's own
	// name for the thing acted on is replaced by a placeholder.
	alike := func(action string, apiDetail, pageDetail []byte, apiThing, pageThing string) {
		t.Helper()
		a := bytes.ReplaceAll(apiDetail, []byte(apiThing), []byte("THING"))
		p := bytes.ReplaceAll(pageDetail, []byte(pageThing), []byte("THING"))
		if !bytes.Equal(a, p) {
			t.Errorf("%s: the API recorded %s, the page %s", action, apiDetail, pageDetail)
		}
	}
	seeOther := func(resp *http.Response) {
		t.Helper()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("page form answered %d", resp.StatusCode)
		}
		if f := e.formFlash(resp, admin); f.kind == flashError {
			t.Fatalf("page form refused: %s", f.text)
		}
	}

	// Users: created, then disabled.
	var ua, up User
	e.mustCall(admin, "POST", "/api/v1/users", userRequest{Email: "api@example.com", Name: "A", Role: domain.RoleViewer, Password: "correct horse battery"}, 201, &ua)
	_, apiCreate := last("user.create")
	seeOther(e.form(admin, "/users", url.Values{"email": {"page@example.com"}, "name": {"A"}, "role": {"viewer"}, "password": {"correct horse battery"}}))
	_, pageCreate := last("user.create")
	alike("user.create", apiCreate, pageCreate, "api@example.com", "page@example.com")
	var users page[User]
	e.mustCall(admin, "GET", "/api/v1/users?q=page@example.com", nil, 200, &users)
	if len(users.Items) != 1 {
		t.Fatalf("the page's user: %+v", users.Items)
	}
	up = users.Items[0]

	e.mustCall(admin, "PATCH", "/api/v1/users/"+ua.ID, map[string]any{"disabled": true}, 200, nil)
	_, apiDisable := last("user.update")
	seeOther(e.form(admin, "/users/"+up.ID+"/disable", nil))
	_, pageDisable := last("user.update")
	alike("user.update", apiDisable, pageDisable, ua.ID, up.ID)

	// Devices: enrolled over the API, then disabled through each.
	var da, dp Enrolment
	e.mustCall(admin, "POST", "/api/v1/devices", enrolRequest{Name: "laptop", Owner: ua.ID}, 201, &da)
	e.mustCall(admin, "POST", "/api/v1/devices", enrolRequest{Name: "laptop", Owner: ua.ID}, 201, &dp)
	e.mustCall(admin, "PATCH", "/api/v1/devices/"+da.Device.ID, map[string]any{"disabled": true}, 200, nil)
	_, apiDev := last("device.update")
	seeOther(e.form(admin, "/devices/"+dp.Device.ID+"/disable", nil))
	_, pageDev := last("device.update")
	alike("device.update", apiDev, pageDev, da.Device.ID, dp.Device.ID)

	// Resources: the same resource under two names.
	e.mustCall(admin, "PUT", "/api/v1/resources/wiki-api.corp", map[string]any{"kind": "tcp", "address": "10.0.0.5", "port": 443, "labels": map[string]string{"env": "prod"}}, 200, nil)
	res, apiRes := last("resource.put")
	if res != "wiki-api.corp" {
		t.Fatalf("resource.put names %q", res)
	}
	seeOther(e.form(admin, "/resources", url.Values{"name": {"wiki-page.corp"}, "kind": {"tcp"}, "address": {"10.0.0.5"}, "port": {"443"}, "labels": {"env=prod"}}))
	_, pageRes := last("resource.put")
	alike("resource.put", apiRes, pageRes, "wiki-api.corp", "wiki-page.corp")
}

package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// TestFieldLimitsOverHTTP sends oversized and malformed free text to
// every API that takes it: each is refused with 400 naming the field, and
// what was stored stays as it was.
func TestFieldLimitsOverHTTP(t *testing.T) {
	e := newEnv(t, nil)
	u := addUser(t, e.st, "ann@example.com", "correct horse battery", domain.RoleViewer)
	var en Enrolment
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "laptop", Owner: u.ID}, 201, &en)
	e.mustCall(domain.RoleOperator, "PUT", "/api/v1/resources/wiki.corp", resourceRequest{Kind: "tcp", Address: "10.0.0.1:22", Labels: map[string]string{"team": "eng"}}, 200, nil)
	e.mustCall(domain.RoleAdmin, "PUT", "/api/v1/groups/eng", groupRequest{Description: "engineers"}, 200, nil)

	huge := strings.Repeat("x", 2<<20-100)
	long := strings.Repeat("n", 100000)
	str := func(s string) *string { return &s }
	rolePtr := func(r domain.Role) *domain.Role { return &r }
	raw := func(s string) *json.RawMessage { m := json.RawMessage(s); return &m }
	policyWith := func(desc string) draft {
		return draft{Name: "long", Source: "description: " + desc + "\nrules:\n  - id: r\n    effect: allow\n    when: 'false'\n"}
	}
	for _, c := range []struct {
		role         domain.Role
		method, path string
		body         any
		field        string
	}{
		{domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: long, Owner: u.ID}, "name"},
		{domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "", Owner: u.ID}, "name"},
		{domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "a\x00b", Owner: u.ID}, "name"},
		{domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "phone", Owner: u.ID, Posture: json.RawMessage(`"not an object"`)}, "posture"},
		{domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "phone", Owner: u.ID, Posture: json.RawMessage(`[1,2]`)}, "posture"},
		{domain.RoleAdmin, "PATCH", "/api/v1/devices/" + en.Device.ID, devicePatch{Name: str(long)}, "name"},
		{domain.RoleAdmin, "PATCH", "/api/v1/devices/" + en.Device.ID, devicePatch{Name: str("")}, "name"},
		{domain.RoleAdmin, "PATCH", "/api/v1/devices/" + en.Device.ID, devicePatch{Posture: raw(`"not an object"`)}, "posture"},
		{domain.RoleOperator, "PUT", "/api/v1/resources/wiki.corp", resourceRequest{Kind: "tcp", Address: "10.0.0.1:22", Labels: map[string]string{"big": huge}}, "labels"},
		{domain.RoleOperator, "PUT", "/api/v1/resources/wiki.corp", resourceRequest{Kind: "tcp", Address: "10.0.0.1:22", Labels: map[string]string{"": "x"}}, "labels"},
		{domain.RoleOperator, "PUT", "/api/v1/resources/wiki.corp", resourceRequest{Kind: "tcp", Address: "10.0.0.1:22", Labels: map[string]string{"a": "b=c"}}, "labels"},
		{domain.RoleOperator, "PUT", "/api/v1/resources/wiki.corp", resourceRequest{Kind: "tcp", Address: "10.0.0.1:22", Note: huge}, "note"},
		{domain.RoleAdmin, "PUT", "/api/v1/groups/eng", groupRequest{Description: huge}, "description"},
		{domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "bob@example.com", Name: long, Role: domain.RoleViewer, Password: "correct horse battery"}, "name"},
		{domain.RoleAdmin, "PATCH", "/api/v1/users/" + u.ID, userPatch{Name: str(long)}, "name"},
		{domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "", Role: domain.RoleViewer, Password: "correct horse battery"}, "email"},
		{domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "not an email", Role: domain.RoleViewer, Password: "correct horse battery"}, "email"},
		{domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "bob@example.com", Role: "boss", Password: "correct horse battery"}, "role"},
		{domain.RoleAdmin, "PATCH", "/api/v1/users/" + u.ID, userPatch{Role: rolePtr("boss")}, "role"},
		{domain.RoleOperator, "POST", "/api/v1/gateways", gatewayRequest{Name: long}, "name"},
		{domain.RoleOperator, "POST", "/api/v1/gateways", gatewayRequest{Name: ""}, "name"},
	} {
		resp := e.call(c.role, c.method, c.path, c.body, nil)
		data, _ := io.ReadAll(resp.Body)
		var got invalidField
		json.Unmarshal(data, &got)
		if resp.StatusCode != http.StatusBadRequest || got.Field != c.field {
			t.Errorf("%s %s: %d %.200s; want 400 on %q", c.method, c.path, resp.StatusCode, data, c.field)
		}
	}

	// The policy editor's API refuses a long description with a
	// diagnostic and stores nothing.
	var v Validation
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/policies/validate", policyWith(strings.Repeat("d", domain.MaxDescriptionLen+1)), 200, &v)
	if v.OK || len(v.Diagnostics) == 0 || !strings.Contains(v.Diagnostics[0].Message, "description: has 1001 characters") {
		t.Errorf("long policy description: %+v", v)
	}

	// Nothing changed.
	if d, err := e.st.Device(bg, en.Device.ID); err != nil || d.Name != "laptop" || len(d.Posture) != 0 {
		t.Errorf("device after refusals: %+v, %v", d, err)
	}
	if ds, _ := e.st.ListDevices(bg, "", store.ListOptions{}); len(ds) != 1 {
		t.Errorf("%d devices after refusals, want 1", len(ds))
	}
	if r, err := e.st.Resource(bg, "wiki.corp"); err != nil || len(r.Labels) != 1 || r.Labels["team"] != "eng" || r.Note != "" {
		t.Errorf("resource after refusals: %+v, %v", r, err)
	}
	if gs, err := e.st.ListGroups(bg); err != nil || len(gs) != 1 || gs[0].Description != "engineers" {
		t.Errorf("groups after refusals: %+v, %v", gs, err)
	}
	if us, _ := e.st.ListUsers(bg, store.ListOptions{}); len(us) != 1 || us[0].Role != domain.RoleViewer || us[0].Name != u.Name {
		t.Errorf("users after refusals: %+v", us)
	}
	if gs, _ := e.st.ListGateways(bg); len(gs) != 0 {
		t.Errorf("%d gateways after refusals", len(gs))
	}

	// The resource page's label syntax: "=x,a=b=c" was stored as
	// {"": "x", "a": "b=c"}; now it is refused.
	for _, labels := range []string{"=x,a=b=c", "a=b=c", "team", "a=1,,b=2", "a=1,a=2"} {
		resp := e.form(domain.RoleOperator, "/resources", url.Values{"name": {"p.corp"}, "kind": {"tcp"}, "address": {"10.0.0.9:80"}, "labels": {labels}})
		io.Copy(io.Discard, resp.Body)
		if f := e.formFlash(resp, domain.RoleOperator); f.kind != flashError || !strings.Contains(f.text, "labels: ") {
			t.Errorf("labels %q: %+v, want an error on labels", labels, f)
		}
		if _, err := e.st.Resource(bg, "p.corp"); err == nil {
			t.Errorf("labels %q: stored although refused", labels)
		}
	}
	// And an empty device name on the page is refused, not renamed.
	resp := e.form(domain.RoleAdmin, "/devices", url.Values{"name": {"  "}, "owner": {u.ID}})
	io.Copy(io.Discard, resp.Body)
	if f := e.formFlash(resp, domain.RoleAdmin); f.kind != flashError || !strings.Contains(f.text, "name: required") {
		t.Errorf("empty device name on the page: %+v", f)
	}
}

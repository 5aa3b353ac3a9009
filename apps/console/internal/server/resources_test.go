package server

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// TestResourceValidation checks that the API and the resources page
// refuse network resources a gateway could not serve, naming the field,
// and store nothing for them.
func TestResourceValidation(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name    string
		req     resourceRequest
		field   string // "" when accepted
		message string
	}{
		{"wiki.corp", resourceRequest{Kind: "tcp", Address: "10.0.0.1:22"}, "", ""},
		{"wiki.corp", resourceRequest{Kind: "tcp", Address: "10.0.0.1", Port: 22}, "", ""},
		{"db", resourceRequest{Kind: "tcp", Address: "db.internal.example", Port: 5432}, "", ""},
		{"v6.corp", resourceRequest{Kind: "tcp", Address: "[fd00::1]:22"}, "", ""},
		{"v6b.corp", resourceRequest{Kind: "udp", Address: "fd00::1", Port: 53}, "", ""},
		{"web.corp", resourceRequest{Kind: "http", Address: "10.0.0.2"}, "", ""}, // http: port 80
		{"dns.corp", resourceRequest{Kind: "udp", Address: "10.0.0.3:53"}, "", ""},
		{"cam", resourceRequest{Kind: "usb"}, "", ""}, // served from a gateway's own configuration
		{"bad_name", resourceRequest{Kind: "tcp", Address: "10.0.0.1:22"}, "name", "not a valid DNS name"},
		{"-lead.corp", resourceRequest{Kind: "http", Address: "10.0.0.1"}, "name", "hyphen"},
		{"a..b", resourceRequest{Kind: "udp", Address: "10.0.0.1:53"}, "name", "empty label"},
		{strings.Repeat("x", 64) + ".corp", resourceRequest{Kind: "tcp", Address: "10.0.0.1:22"}, "name", "longer than 63"},
		{"x.corp", resourceRequest{Kind: "tcp"}, "address", "required"},
		{"x.corp", resourceRequest{Kind: "tcp", Address: "10.0.0.1"}, "port", "no port"},
		{"x.corp", resourceRequest{Kind: "udp", Address: "10.0.0.1"}, "port", "no port"},
		{"x.corp", resourceRequest{Kind: "tcp", Address: "10.0.0.1:22", Port: 22}, "port", "in one place"},
		{"x.corp", resourceRequest{Kind: "tcp", Address: "10.0.0.1:0"}, "address", "not 1-65535"},
		{"x.corp", resourceRequest{Kind: "tcp", Address: "10.0.0.1:ssh"}, "address", "not 1-65535"},
		{"x.corp", resourceRequest{Kind: "http", Address: "[fd00::1"}, "address", "not host:port"},
		{"x.corp", resourceRequest{Kind: "tcp", Address: "bad host:22"}, "address", "neither an IP address nor a DNS name"},
		{"x.corp", resourceRequest{Kind: "tcp", Address: "10.0.0.1", Port: 70000}, "", "port 0-65535"},
	} {
		var got invalidField
		resp := e.call(domain.RoleOperator, "PUT", "/api/v1/resources/"+url.PathEscape(tc.name), tc.req, &got)
		switch {
		case tc.field == "" && tc.message == "":
			if resp.StatusCode != 200 {
				t.Errorf("%s %+v: %d %+v, want accepted", tc.name, tc.req, resp.StatusCode, got)
			}
			continue
		case resp.StatusCode != 400 || got.Field != tc.field || !strings.Contains(got.Message, tc.message):
			t.Errorf("%s %+v: %d %+v, want 400 on %q saying %q", tc.name, tc.req, resp.StatusCode, got, tc.field, tc.message)
		}
		if _, err := e.st.Resource(bg, tc.name); err == nil && tc.name != "wiki.corp" {
			t.Errorf("%s: stored although refused", tc.name)
		}
	}
	// A refused change leaves the stored resource as it was.
	e.mustCall(domain.RoleOperator, "PUT", "/api/v1/resources/wiki.corp", resourceRequest{Kind: "tcp", Address: "nowhere"}, 400, nil)
	if r, err := e.st.Resource(bg, "wiki.corp"); err != nil || r.Address != "10.0.0.1" || r.Port != 22 {
		t.Errorf("wiki.corp after a refused change: %+v, %v", r, err)
	}

	// The page form says the same.
	for _, tc := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"name": {"bad_name"}, "kind": {"tcp"}, "address": {"10.0.0.1"}, "port": {"22"}}, "name: "},
		{url.Values{"name": {"p.corp"}, "kind": {"tcp"}, "address": {"10.0.0.1"}, "port": {"twenty"}}, "port: "},
		{url.Values{"name": {"p.corp"}, "kind": {"udp"}, "address": {"10.0.0.1"}}, "port: required"},
		{url.Values{"name": {"p.corp"}, "kind": {"http"}, "address": {"no such host"}}, "address: "},
	} {
		resp := e.form(domain.RoleOperator, "/resources", tc.form)
		io.Copy(io.Discard, resp.Body)
		if f := e.formFlash(resp, domain.RoleOperator); resp.StatusCode != http.StatusSeeOther || f.kind != flashError || !strings.Contains(f.text, tc.want) {
			t.Errorf("form %v: %d with %+v, want an error on %q", tc.form, resp.StatusCode, f, tc.want)
		}
		if _, err := e.st.Resource(bg, tc.form.Get("name")); err == nil {
			t.Errorf("form %v: stored although refused", tc.form)
		}
	}
	resp := e.form(domain.RoleOperator, "/resources", url.Values{"name": {"p.corp"}, "kind": {"tcp"}, "address": {"10.0.0.9"}, "port": {"8080"}})
	if f := e.formFlash(resp, domain.RoleOperator); resp.StatusCode != http.StatusSeeOther || f.kind != flashInfo {
		t.Errorf("valid form: %d with %+v", resp.StatusCode, f)
	}
	if r, err := e.st.Resource(bg, "p.corp"); err != nil || r.Port != 8080 {
		t.Errorf("p.corp = %+v, %v", r, err)
	}
}

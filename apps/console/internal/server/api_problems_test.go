package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// TestDuplicatesNameTheField creates a user, a gateway and a device twice
// over the REST API: the second answer is 409 with the field to change and
// a sentence about it, never the driver's text.
func TestDuplicatesNameTheField(t *testing.T) {
	e := newEnv(t, nil)
	key := "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY="
	owner := addUser(t, e.st, "owner@example.com", "correct horse battery", domain.RoleViewer)
	cases := []struct {
		path  string
		body  any
		field string
		says  string
	}{
		{"/api/v1/users", userRequest{Email: "ann@example.com", Name: "Ann", Role: domain.RoleViewer, Password: "correct horse battery"}, "email", "a user with this email already exists"},
		{"/api/v1/gateways", gatewayRequest{Name: "edge-1"}, "name", "a gateway with this name already exists"},
		{"/api/v1/devices", enrolRequest{Name: "laptop", Owner: owner.ID, PublicKey: key}, "public_key", "already enrolled"},
	}
	for _, c := range cases {
		if resp := e.call(domain.RoleAdmin, "POST", c.path, c.body, nil); resp.StatusCode != http.StatusCreated {
			body, _ := io.ReadAll(resp.Body)
			t.Fatalf("first POST %s: %d %s", c.path, resp.StatusCode, body)
		}
		resp := e.call(domain.RoleAdmin, "POST", c.path, c.body, nil)
		data, _ := io.ReadAll(resp.Body)
		var got invalidField
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatalf("second POST %s: %d %s", c.path, resp.StatusCode, data)
		}
		if resp.StatusCode != http.StatusConflict || got.Code != "conflict" || got.Field != c.field || !strings.Contains(got.Message, c.says) {
			t.Errorf("second POST %s: %d %s; want 409 conflict on %s saying %q", c.path, resp.StatusCode, data, c.field, c.says)
		}
		for _, leak := range []string{"constraint", "UNIQUE", "store:", "2067", "23505"} {
			if strings.Contains(string(data), leak) {
				t.Errorf("second POST %s leaks %q: %s", c.path, leak, data)
			}
		}
	}
}

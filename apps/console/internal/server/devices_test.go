package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// selfEnroller logs a viewer in over real HTTP and returns a function
// that self-enrols one device, answering the status and the body.
func selfEnroller(t *testing.T, e *env, hs *httptest.Server, email string) func() (int, string) {
	t.Helper()
	u := &store.User{Email: email, Role: domain.RoleViewer, PasswordHash: domain.HashPassword("correct horse battery")}
	if err := e.st.CreateUser(bg, u); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, hs)
	if resp := b.login(email, "correct horse battery", ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	tok := b.csrf("/account")
	return func() (int, string) {
		req, _ := http.NewRequest("POST", hs.URL+"/api/v1/me/devices", strings.NewReader(`{"name":"d"}`))
		req.Header.Set("X-CSRF-Token", tok)
		resp, err := b.c.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
}

func TestConcurrentSelfEnrolmentGetsDistinctAddresses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.DB) {
		e := newEnv(t, st)
		hs := httptest.NewServer(e.srv)
		defer hs.Close()
		if err := st.SetSetting(bg, SettingDeviceQuota, "0"); err != nil {
			t.Fatal(err)
		}
		const n = 24
		enrol := selfEnroller(t, e, hs, "many@example.com")
		var wg sync.WaitGroup
		var mu sync.Mutex
		seen := map[string]int{}
		for range n {
			wg.Go(func() {
				status, body := enrol()
				var en Enrolment
				if status != http.StatusCreated || json.Unmarshal([]byte(body), &en) != nil {
					t.Errorf("enrol: %d %s", status, body)
					return
				}
				mu.Lock()
				seen[en.Device.Address]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if len(seen) != n {
			t.Fatalf("%d enrolments got %d distinct addresses: %v", n, len(seen), seen)
		}

		// A /29 holds .2 to .6: five devices, then a clear refusal.
		if err := st.SetSetting(bg, SettingWGNetwork, "10.9.0.0/29"); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if status, body := enrol(); status != http.StatusCreated || !strings.Contains(body, fmt.Sprintf(`"address":"10.9.0.%d/32"`, i+2)) {
				t.Fatalf("small pool enrol %d: %d %s", i, status, body)
			}
		}
		if status, body := enrol(); status != http.StatusInsufficientStorage || !strings.Contains(body, "pool is full") {
			t.Fatalf("full pool: %d %s", status, body)
		}
	})
}

func TestSelfEnrolmentQuota(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	enrol := selfEnroller(t, e, hs, "quota@example.com")
	for i := range domain.DefaultDeviceQuota {
		if status, body := enrol(); status != http.StatusCreated {
			t.Fatalf("enrol %d: %d %s", i, status, body)
		}
	}
	if status, body := enrol(); status != http.StatusConflict || !strings.Contains(body, "quota") {
		t.Fatalf("over quota: %d %s", status, body)
	}
	// Another user's quota is their own.
	if status, body := selfEnroller(t, e, hs, "other@example.com")(); status != http.StatusCreated {
		t.Fatalf("other user: %d %s", status, body)
	}
}

func TestEnrolForAnotherUserNeedsAdmin(t *testing.T) {
	e := newEnv(t, nil)
	admin := &store.User{Email: "root@example.com", Role: domain.RoleAdmin}
	if err := e.st.CreateUser(bg, admin); err != nil {
		t.Fatal(err)
	}
	req := enrolRequest{Name: "planted", Owner: admin.ID, Posture: json.RawMessage(`{"managed":true}`)}
	for _, role := range []domain.Role{domain.RoleOperator, domain.RolePolicyEditor, domain.RoleViewer} {
		if resp := e.call(role, "POST", "/api/v1/devices", req, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s enrolling for an admin: %d", role, resp.StatusCode)
		}
	}
	var en Enrolment
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/devices", req, http.StatusCreated, &en)
	if en.Device.PostureSource != store.PosturePerson {
		t.Errorf("posture source = %q, want %q", en.Device.PostureSource, store.PosturePerson)
	}
}

func TestHugePolicyDraftIsRefused(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	body := `{"name":"p","source":"` + strings.Repeat("a", 9<<20) + `"}`
	req, _ := http.NewRequest("POST", hs.URL+"/api/v1/policies/validate", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.keys[domain.RoleViewer])
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("9 MiB draft: %d, want 413", resp.StatusCode)
	}
}

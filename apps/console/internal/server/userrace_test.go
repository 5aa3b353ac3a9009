package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// loginFrom logs in over HTTP from the loopback address local, without
// touching t (it runs on goroutines of its own), and returns the status.
func loginFrom(base, local, email, pw, code string) (int, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	tr := &http.Transport{DialContext: d.DialContext}
	defer tr.CloseIdleConnections()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/login")
	if err != nil {
		return 0, err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(page)
	if m == nil {
		return 0, fmt.Errorf("no CSRF token on /login (%d)", resp.StatusCode)
	}
	resp, err = c.PostForm(base+"/login", url.Values{"csrf": {string(m[1])}, "email": {email}, "password": {pw}, "code": {code}})
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// patchUser is an admin's PATCH of a user over HTTP.
func patchUser(t *testing.T, hs *httptest.Server, key, id string, patch map[string]any) *store.User {
	t.Helper()
	body, _ := json.Marshal(patch)
	req, _ := http.NewRequest("PATCH", hs.URL+"/api/v1/users/"+id, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PATCH %s %s: %d %s", id, body, resp.StatusCode, data)
	}
	var u store.User
	json.Unmarshal(data, &u)
	return &u
}

func getUser(t *testing.T, hs *httptest.Server, key, id string) *store.User {
	t.Helper()
	req, _ := http.NewRequest("GET", hs.URL+"/api/v1/users/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var u store.User
	if err := json.NewDecoder(resp.Body).Decode(&u); err != nil {
		t.Fatal(err)
	}
	return &u
}

// TestLoginDoesNotUndoAdminChanges races logins (a wrong password, and
// the right one with a recovery code, which the console must consume)
// with an admin disabling or demoting the account over the REST API.
// Login used to read the user, spend argon2 time and write the whole row
// back, undoing the admin's change while the audit log claimed it. The
// first rounds hold each login inside that window with the test hook
// until the admin's change is made; the rest race freely. Afterwards the
// change holds, every time.
func TestLoginDoesNotUndoAdminChanges(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	admin := e.keys[domain.RoleAdmin]
	const pw = "correct horse battery"
	changes := []map[string]any{{"disabled": true}, {"role": "viewer"}}
	holds := func(u *store.User, change map[string]any) bool {
		if _, ok := change["disabled"]; ok {
			return u.Disabled
		}
		return u.Role == domain.RoleViewer
	}
	round := 0
	run := func(hooked bool, wrong bool, change map[string]any) {
		round++
		code := fmt.Sprintf("rc%02d-k3m9-x2pq", round) // a recovery code, as the console makes them
		u := &store.User{Email: fmt.Sprintf("race%d@example.com", round), Role: domain.RoleAdmin, PasswordHash: domain.HashPassword(pw),
			TOTPSecret: "JBSWY3DPEHPK3PXP", TOTPEnabled: true, Recovery: []string{tokenHash(code), tokenHash("spare")}}
		if err := e.st.CreateUser(bg, u); err != nil {
			t.Fatal(err)
		}
		checked, proceed := make(chan struct{}), make(chan struct{})
		if hooked {
			hook := func() {
				close(checked)
				<-proceed
			}
			e.srv.testHookPasswordChecked.Store(&hook)
		}
		password := pw
		if wrong {
			password = "wrong wrong wrong"
		}
		type result struct {
			status int
			err    error
		}
		done := make(chan result, 1)
		// Every round logs in from an address of its own, clear of the
		// per-source throttle.
		local := fmt.Sprintf("127.0.%d.%d", 1+round/250, 1+round%250)
		go func() {
			status, err := loginFrom(hs.URL, local, u.Email, password, code)
			done <- result{status, err}
		}()
		if hooked {
			select {
			case <-checked:
			case <-time.After(10 * time.Second):
				t.Fatal("login never reached the password check")
			}
		}
		patchUser(t, hs, admin, u.ID, change)
		close(proceed)
		res := <-done
		if res.err != nil {
			t.Fatal(res.err)
		}
		// A held login read the account before the change and goes on
		// with what it checked; a free one may see the disable first.
		switch {
		case wrong && res.status != http.StatusUnauthorized,
			!wrong && hooked && res.status != http.StatusSeeOther,
			!wrong && res.status != http.StatusSeeOther && res.status != http.StatusUnauthorized:
			t.Fatalf("round %d (hooked %v, wrong password %v): login status %d", round, hooked, wrong, res.status)
		}
		e.srv.testHookPasswordChecked.Store(nil)
		if got := getUser(t, hs, admin, u.ID); !holds(got, change) {
			t.Fatalf("round %d (hooked %v, wrong password %v): %v was undone by a login: %+v", round, hooked, wrong, change, got)
		}
		if res.status == http.StatusSeeOther {
			if got, _ := e.st.User(bg, u.ID); len(got.Recovery) != 1 {
				t.Fatalf("round %d: the recovery code was not consumed: %d left", round, len(got.Recovery))
			}
		}
	}
	for _, change := range changes {
		for _, wrong := range []bool{true, false} {
			run(true, wrong, change)
		}
	}
	for i := range 40 {
		run(false, i%2 == 0, changes[i/2%2])
	}
}

package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Cheap hashes for tests (the format and the check are the same);
	// TestPasswordHash checks the production parameters.
	domain.SetPasswordCost(1, 64)
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
	)
}

// env is a console over a fresh SQLite store with an API key per role.
type env struct {
	t    testing.TB
	st   *store.DB
	srv  *Server
	keys map[domain.Role]string
}

func newEnv(t testing.TB, st *store.DB) *env {
	t.Helper()
	return newEnvWith(t, st, nil)
}

// newEnvWith is newEnv with server options.
func newEnvWith(t testing.TB, st *store.DB, opts *Options) *env {
	t.Helper()
	if st == nil {
		st = storetest.SQLite(t)
	}
	srv, err := New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	e := &env{t: t, st: st, srv: srv, keys: map[domain.Role]string{}}
	for _, role := range domain.Roles {
		_, secret, err := srv.CreateAPIKey(bg, "test-"+string(role), role)
		if err != nil {
			t.Fatal(err)
		}
		e.keys[role] = secret
	}
	return e
}

// keyActor is how audit entries name the API key of role:
// "apikey:<key id>", the id being the secret's public prefix.
func (e *env) keyActor(role domain.Role) string {
	id, _, _ := strings.Cut(strings.TrimPrefix(e.keys[role], "gk_"), ".")
	return "apikey:" + id
}

// call makes one API request as role ("" for anonymous) and decodes a
// JSON answer into out when out is not nil.
func (e *env) call(role domain.Role, method, path string, body any, out any) *http.Response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+e.keys[role])
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, req)
	resp := w.Result()
	if out != nil {
		data, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp
}

func (e *env) mustCall(role domain.Role, method, path string, body any, want int, out any) {
	e.t.Helper()
	if resp := e.call(role, method, path, body, out); resp.StatusCode != want {
		e.t.Fatalf("%s %s as %s: status %d, want %d", method, path, role, resp.StatusCode, want)
	}
}

var bg = context.Background()

package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// testClock is a console clock that moves only when told, so that
// bucket arithmetic is exact and no test sleeps through a period.
type testClock struct {
	base time.Time
	off  atomic.Int64
}

func newTestClock() *testClock { return &testClock{base: time.Now()} }

func (c *testClock) now() time.Time { return c.base.Add(time.Duration(c.off.Load())) }

func (c *testClock) advance(d time.Duration) { c.off.Add(int64(d)) }

// limited is one answer of the API, with its rate limit fields.
type limited struct {
	status             int
	policy, rate, wait string // RateLimit-Policy, RateLimit, Retry-After
	err                apiError
}

// apiAs makes one request over hs with a bearer key (or, when c is not
// nil, with c's cookies); forwarded, when not empty, is sent as
// X-Forwarded-For.
func apiAs(t *testing.T, hs *httptest.Server, c *http.Client, bearer, method, path, forwarded string) limited {
	t.Helper()
	req, _ := http.NewRequest(method, hs.URL+path, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if forwarded != "" {
		req.Header.Set("X-Forwarded-For", forwarded)
	}
	if c == nil {
		c = hs.Client()
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	l := limited{status: resp.StatusCode, policy: resp.Header.Get("RateLimit-Policy"), rate: resp.Header.Get("RateLimit"), wait: resp.Header.Get("Retry-After")}
	if resp.StatusCode >= 400 {
		json.Unmarshal(data, &l.err)
	}
	return l
}

// wantOK fails unless l is a 200 reporting policy and rate.
func wantOK(t *testing.T, what string, l limited, policy, rate string) {
	t.Helper()
	if l.status != http.StatusOK || (policy != "" && l.policy != policy) || (rate != "" && l.rate != rate) {
		t.Fatalf("%s: %d, RateLimit-Policy %q, RateLimit %q; want 200, %q, %q", what, l.status, l.policy, l.rate, policy, rate)
	}
}

// wantLimited fails unless l is a 429 of the limit named per, with a
// Retry-After and both rate limit fields.
func wantLimited(t *testing.T, what string, l limited, per string) {
	t.Helper()
	if l.status != http.StatusTooManyRequests || l.err.Code != "rate_limited" || !strings.Contains(l.err.Message, per) || !strings.Contains(l.err.Message, "retry in") {
		t.Fatalf("%s: %d %+v; want 429 rate_limited %s", what, l.status, l.err, per)
	}
	if l.wait == "" || l.policy == "" || !strings.Contains(l.rate, ";r=0;") {
		t.Fatalf("%s: Retry-After %q, RateLimit-Policy %q, RateLimit %q", what, l.wait, l.policy, l.rate)
	}
}

func setSetting(t testing.TB, st store.Store, key, value string) {
	t.Helper()
	if err := st.SetSetting(bg, key, value); err != nil {
		t.Fatal(err)
	}
}

// unlimitedAPI turns st's API rate limits off, for benchmarks that
// send one key's requests as fast as the console answers.
func unlimitedAPI(tb testing.TB, st store.Store) {
	for _, key := range []string{SettingAPIRateKey, SettingAPIRateUser, SettingAPIRateAddress} {
		setSetting(tb, st, key, "off")
	}
}

// tenantKey makes a tool key of role in tenant id, created in root.
func tenantKey(t *testing.T, e *env, id string, role domain.Role) string {
	t.Helper()
	dom, err := e.srv.plat.Service(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := dom.CreateToolKey(bg, "test-"+string(role), role)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// TestAPIRateLimitPerKey: past its tenant's limit an API key gets 429
// with Retry-After and the RateLimit fields, which every answer before
// carried; another key of the tenant and a key of another tenant are
// not affected, and the key may go on once its bucket refills.
func TestAPIRateLimitPerKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.DB) {
		clk := newTestClock()
		e := newEnvWith(t, st, &Options{Now: clk.now})
		hs := httptest.NewServer(e.srv)
		defer hs.Close()
		setSetting(t, st, SettingAPIRateKey, "3/1m")
		viewer := e.keys[domain.RoleViewer]
		// One request every 20 s refills the bucket of 3.
		for i, rate := range []string{`"key";r=2;t=20`, `"key";r=1;t=40`, `"key";r=0;t=60`} {
			wantOK(t, fmt.Sprint("request ", i), apiAs(t, hs, nil, viewer, "GET", "/api/v1/resources", ""), `"key";q=3;w=60`, rate)
		}
		l := apiAs(t, hs, nil, viewer, "GET", "/api/v1/resources", "")
		wantLimited(t, "the fourth request", l, "per API key")
		if l.wait != "20" || l.rate != `"key";r=0;t=60` || l.policy != `"key";q=3;w=60` {
			t.Errorf("the fourth request: Retry-After %q, RateLimit %q, RateLimit-Policy %q", l.wait, l.rate, l.policy)
		}
		// The limit is the key's on every route, and refused requests
		// spend nothing: still 20 s to wait.
		if l := apiAs(t, hs, nil, viewer, "GET", "/api/v1/groups", ""); l.status != http.StatusTooManyRequests || l.wait != "20" {
			t.Errorf("another route: %d, Retry-After %q", l.status, l.wait)
		}
		wantOK(t, "another key of the tenant", apiAs(t, hs, nil, e.keys[domain.RoleAuditor], "GET", "/api/v1/resources", ""), "", `"key";r=2;t=20`)

		if st.TenantID() == domain.DefaultTenant {
			acme := storetest.Tenant(t, st, "acme")
			setSetting(t, acme, SettingAPIRateKey, "3/1m")
			key := tenantKey(t, e, "acme", domain.RoleViewer)
			wantOK(t, "a key of another tenant", apiAs(t, hs, nil, key, "GET", "/api/v1/resources", ""), `"key";q=3;w=60`, `"key";r=2;t=20`)
		}

		clk.advance(20 * time.Second)
		wantOK(t, "after 20 s", apiAs(t, hs, nil, viewer, "GET", "/api/v1/resources", ""), "", `"key";r=0;t=60`)
		wantLimited(t, "right after", apiAs(t, hs, nil, viewer, "GET", "/api/v1/resources", ""), "per API key")
	})
}

// TestAPIRateLimitPerUser: a user's API requests, with any of her
// sessions and with the keys she owns, spend one bucket; another user
// and a key of no one are not affected.
func TestAPIRateLimitPerUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.DB) {
		clk := newTestClock()
		e := newEnvWith(t, st, &Options{Now: clk.now})
		hs := httptest.NewServer(e.srv)
		defer hs.Close()
		addUser(t, st, "vera@example.com", "correct horse battery", domain.RoleAdmin)
		addUser(t, st, "walt@example.com", "correct horse battery", domain.RoleViewer)
		session := func(email string) *browser {
			b := newBrowser(t, hs)
			if resp := b.login(email, "correct horse battery", ""); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("login %s: %d", email, resp.StatusCode)
			}
			return b
		}
		vera, vera2, walt := session("vera@example.com"), session("vera@example.com"), session("walt@example.com")
		var own keyCreated
		if code := vera.do("POST", "/api/v1/apikeys", "", keyRequest{Name: "vera's", Role: domain.RoleViewer}, &own); code != http.StatusCreated {
			t.Fatalf("vera's key: %d", code)
		}

		// The limits change: within limitsTTL every replica reads them.
		setSetting(t, st, SettingAPIRateUser, "3/1m")
		setSetting(t, st, SettingAPIRateKey, "off")
		clk.advance(limitsTTL)
		for i, b := range []*browser{vera, vera2, vera} {
			wantOK(t, fmt.Sprint("vera's request ", i), apiAs(t, hs, b.c, "", "GET", "/api/v1/me", ""), `"user";q=3;w=60`, "")
		}
		wantLimited(t, "vera's fourth request", apiAs(t, hs, vera2.c, "", "GET", "/api/v1/me", ""), "per user")
		wantLimited(t, "the key vera owns", apiAs(t, hs, nil, own.Secret, "GET", "/api/v1/resources", ""), "per user")
		wantOK(t, "walt", apiAs(t, hs, walt.c, "", "GET", "/api/v1/me", ""), `"user";q=3;w=60`, `"user";r=2;t=20`)
		// A key no one owns has no user's bucket: the address's is the
		// one left.
		wantOK(t, "a tool key", apiAs(t, hs, nil, e.keys[domain.RoleViewer], "GET", "/api/v1/resources", ""), `"address";q=1200;w=60`, "")
	})
}

// TestAPIRateLimitPerAddress: one client address spends one bucket
// whichever keys it uses; another address, the public routes and the
// gateways' control plane are not limited by it.
func TestAPIRateLimitPerAddress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.DB) {
		clk := newTestClock()
		e := newEnvWith(t, st, &Options{Now: clk.now})
		hs := httptest.NewServer(e.srv)
		defer hs.Close()
		// The test's requests come from loopback: as a proxy there,
		// they name their client in X-Forwarded-For.
		setSetting(t, st, SettingTrustedProxies, "127.0.0.1, ::1")
		setSetting(t, st, SettingAPIRateKey, "off")
		setSetting(t, st, SettingAPIRateAddress, "5/1m")

		// A gateway registered from the address (one API request) is
		// then served, however often, outside the API's limits.
		g := registerGatewayHTTP(t, e, hs.URL, "gw")
		for i := range 8 {
			if code, body := g.post("/cp/v1/events", []byte(`{"events":[]}`)); code != http.StatusOK {
				t.Fatalf("gateway events %d: %d %s", i, code, body)
			}
		}
		const a = "192.0.2.7"
		wantOK(t, "the operator's key from loopback", apiAs(t, hs, nil, e.keys[domain.RoleOperator], "GET", "/api/v1/gateways", ""), `"address";q=5;w=60`, `"address";r=3;t=24`)
		for i, role := range []domain.Role{domain.RoleViewer, domain.RoleViewer, domain.RoleAuditor, domain.RoleAuditor, domain.RolePolicyEditor} {
			wantOK(t, fmt.Sprint(a, " request ", i, " as ", role), apiAs(t, hs, nil, e.keys[role], "GET", "/api/v1/resources", a), `"address";q=5;w=60`, "")
		}
		wantLimited(t, "a sixth key from "+a, apiAs(t, hs, nil, e.keys[domain.RoleAdmin], "GET", "/api/v1/resources", a), "per address")
		wantOK(t, "another address", apiAs(t, hs, nil, e.keys[domain.RoleAdmin], "GET", "/api/v1/resources", "192.0.2.8"), "", `"address";r=4;t=12`)
		if l := apiAs(t, hs, nil, "", "GET", "/api/v1/openapi.json", a); l.status != http.StatusOK || l.rate != "" {
			t.Errorf("a public route from %s: %d, RateLimit %q", a, l.status, l.rate)
		}
		if st.TenantID() == domain.DefaultTenant {
			// Another tenant's buckets and limits are its own.
			storetest.Tenant(t, st, "acme")
			wantOK(t, "another tenant's key from "+a, apiAs(t, hs, nil, tenantKey(t, e, "acme", domain.RoleViewer), "GET", "/api/v1/resources", a), `"key";q=600;w=60`, "")
		}
	})
}

// TestAPIRateLimitSetting: an admin changes her tenant's limit through
// the settings API and it applies within limitsTTL, to her tenant only;
// a value that does not parse is refused with 400 and leaves the limit
// as it was.
func TestAPIRateLimitSetting(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *store.DB{"sqlite": storetest.SQLite, "postgres": storetest.Postgres} {
		t.Run(name, func(t *testing.T) {
			clk := newTestClock()
			e := newEnvWith(t, open(t), &Options{Now: clk.now})
			hs := httptest.NewServer(e.srv)
			defer hs.Close()
			storetest.Tenant(t, e.st, "acme")
			acmeAdmin, acmeViewer := tenantKey(t, e, "acme", domain.RoleAdmin), tenantKey(t, e, "acme", domain.RoleViewer)
			viewer := e.keys[domain.RoleViewer]
			wantOK(t, "before", apiAs(t, hs, nil, viewer, "GET", "/api/v1/resources", ""), `"key";q=600;w=60`, `"key";r=599;t=1`)

			e.httpAPI(hs.URL, domain.RoleAdmin, "PUT", "/api/v1/settings/"+SettingAPIRateKey, settingValue{Value: "2/1m"}, 200, nil)
			clk.advance(limitsTTL)
			wantOK(t, "after the change", apiAs(t, hs, nil, viewer, "GET", "/api/v1/resources", ""), `"key";q=2;w=60`, `"key";r=1;t=30`)
			wantOK(t, "the second after the change", apiAs(t, hs, nil, viewer, "GET", "/api/v1/resources", ""), `"key";q=2;w=60`, `"key";r=0;t=60`)
			wantLimited(t, "past the new limit", apiAs(t, hs, nil, viewer, "GET", "/api/v1/resources", ""), "per API key")

			e.httpAPI(hs.URL, domain.RoleAdmin, "PUT", "/api/v1/settings/"+SettingAPIRateKey, settingValue{Value: "2 a minute"}, 400, nil)
			if v, _ := e.st.Setting(bg, SettingAPIRateKey); v != "2/1m" {
				t.Fatalf("after a refused value the setting is %q, want 2/1m", v)
			}
			clk.advance(limitsTTL)
			if l := apiAs(t, hs, nil, viewer, "GET", "/api/v1/resources", ""); l.status != http.StatusTooManyRequests || l.policy != `"key";q=2;w=60` {
				t.Errorf("after a refused value: %d %q, want 429 under the old limit", l.status, l.policy)
			}

			// The other tenant's limit is its own, and set by its admins.
			wantOK(t, "another tenant", apiAs(t, hs, nil, acmeViewer, "GET", "/api/v1/resources", ""), `"key";q=600;w=60`, "")
			req, _ := http.NewRequest("PUT", hs.URL+"/api/v1/settings/"+SettingAPIRateKey, strings.NewReader(`{"value":"1/1h"}`))
			req.Header.Set("Authorization", "Bearer "+acmeAdmin)
			resp, err := hs.Client().Do(req)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("acme's admin sets the limit: %v %v", resp, err)
			}
			resp.Body.Close()
			clk.advance(limitsTTL)
			wantOK(t, "another tenant after its change", apiAs(t, hs, nil, acmeViewer, "GET", "/api/v1/resources", ""), `"key";q=1;w=3600`, "")
			wantLimited(t, "another tenant past its limit", apiAs(t, hs, nil, acmeViewer, "GET", "/api/v1/resources", ""), "per API key")
			wantOK(t, "this tenant's limit after the other's change", apiAs(t, hs, nil, e.keys[domain.RoleAuditor], "GET", "/api/v1/resources", ""), `"key";q=2;w=60`, "")
		})
	}
}

// TestAPIRateLimitBucketsBounded sends API requests from 100,000
// addresses, one a millisecond, as an attacker rotating addresses
// would: the limiter forgets every bucket that is full again, so it
// holds about the addresses of the last sweep period, not all of them,
// and none once they are all idle.
func TestAPIRateLimitBucketsBounded(t *testing.T) {
	clk := newTestClock()
	e := newEnvWith(t, nil, &Options{Now: clk.now})
	setSetting(t, e.st, SettingAPIRateKey, "off")
	p := &principal{dom: e.srv.plat.Default(), tenant: domain.DefaultTenant, apiKey: &domain.APIKey{ID: "k"}, role: domain.RoleViewer}
	const n, step = 100_000, time.Millisecond
	most := 0
	for i := range n {
		r := httptest.NewRequest("GET", "/api/v1/resources", nil)
		r.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:1234", i>>16, (i>>8)&255, i&255)
		if !e.srv.limitAPI(httptest.NewRecorder(), r, p) {
			t.Fatalf("request %d refused", i)
		}
		most = max(most, len(e.srv.api.buckets.next))
		clk.advance(step)
	}
	// A bucket of the default 1200 a minute is full again 50 ms after
	// its one request; sweeps come every sweepEvery.
	if bound := int(sweepEvery/step) + 100; most > bound {
		t.Errorf("the limiter held %d buckets for %d addresses, more than %d", most, n, bound)
	}
	clk.advance(time.Minute)
	r := httptest.NewRequest("GET", "/api/v1/resources", nil)
	e.srv.limitAPI(httptest.NewRecorder(), r, p)
	if got := len(e.srv.api.buckets.next); got != 1 {
		t.Errorf("after every address went idle the limiter holds %d buckets, want 1", got)
	}
}

// TestAPIRateLimitDividedAmongReplicas runs two consoles over one
// PostgreSQL schema: each counts both, and enforces half the limit with
// buckets of its own; once one is gone the other enforces all of it.
func TestAPIRateLimitDividedAmongReplicas(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	open := func() (*Server, *store.DB) {
		st, err := store.Open(bg, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		srv, err := New(st, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		select {
		case <-srv.listening:
		case <-time.After(30 * time.Second):
			t.Fatal("replica not listening")
		}
		return srv, st
	}
	a, st := open()
	b, _ := open()
	waitReplicas := func(srv *Server, want int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for srv.recountReplicas(); srv.api.replicas.Load() != want; srv.recountReplicas() {
			if time.Now().After(deadline) {
				t.Fatalf("replicas counted %d, want %d", srv.api.replicas.Load(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitReplicas(a, 2)
	waitReplicas(b, 2)
	setSetting(t, st, SettingAPIRateKey, "4/1m")
	_, key, err := a.CreateAPIKey(bg, "k", domain.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	call := func(srv *Server) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/api/v1/resources", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		return w
	}
	for _, srv := range []*Server{a, b} {
		for i := range 2 {
			if w := call(srv); w.Code != 200 || w.Header().Get("RateLimit-Policy") != `"key";q=2;w=60` {
				t.Fatalf("request %d: %d, RateLimit-Policy %q; want 200, q=2", i, w.Code, w.Header().Get("RateLimit-Policy"))
			}
		}
		if w := call(srv); w.Code != http.StatusTooManyRequests {
			t.Fatalf("past the replica's half: %d, want 429", w.Code)
		}
	}
	b.Close()
	waitReplicas(a, 1)
	if w := call(a); w.Header().Get("RateLimit-Policy") != `"key";q=4;w=60` {
		t.Errorf("alone: RateLimit-Policy %q, want q=4", w.Header().Get("RateLimit-Policy"))
	}
}

// BenchmarkLimitAPI measures what the limiter adds to an API request
// with a key of an owner: three buckets, limits from the cache.
func BenchmarkLimitAPI(b *testing.B) {
	e := newEnv(b, nil)
	for _, key := range []string{SettingAPIRateKey, SettingAPIRateUser, SettingAPIRateAddress} {
		setSetting(b, e.st, key, "1000000/1s")
	}
	p := &principal{dom: e.srv.plat.Default(), tenant: domain.DefaultTenant, apiKey: &domain.APIKey{ID: "k", Owner: "u"}, role: domain.RoleViewer}
	r := httptest.NewRequest("GET", "/api/v1/resources", nil)
	for b.Loop() {
		if !e.srv.limitAPI(httptest.NewRecorder(), r, p) {
			b.Fatal("refused")
		}
	}
}

package server

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// A tenant's seeded things. Their names, which requests carry, are
// made of the tenant's mark ("<tenant>mark"); what only the things hold
// (descriptions, notes, display names, messages) carries its secret
// ("<tenant>secret"), which no answer to anybody of another tenant may
// contain.
type tenantSeed struct {
	id, mark, secret string
	admin            string // the bearer secret of an admin API key
	user             User
	device           string
	gateway          gatewayCreated
	gatewayBearer    string // its credential once registered
	apiKey           string // the id of a second key
	idp              string // an identity provider's id
	alert            string
}

func (sd tenantSeed) resource() string { return "db." + sd.mark + ".internal" }

// seedTenant fills tenant id through the API, as its own admin.
func seedTenant(t *testing.T, e *env, id string) tenantSeed {
	t.Helper()
	svc, err := e.srv.plat.Service(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	_, admin, err := svc.CreateToolKey(bg, "admin-"+id, domain.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	sd := tenantSeed{id: id, mark: id + "mark", secret: id + "secret", admin: admin}
	as := func(method, path string, body any, want int, out any) {
		t.Helper()
		if code, data := tenantCall(e, admin, "", method, path, body); code != want || (out != nil && json.Unmarshal(data, out) != nil) {
			t.Fatalf("seeding %s: %s %s: %d %s", id, method, path, code, data)
		}
	}
	as("PUT", "/api/v1/groups/"+sd.mark, groupRequest{Description: sd.secret + " group"}, 200, nil)
	as("POST", "/api/v1/users", userRequest{Email: "ann@" + sd.secret + ".example", Name: "Ann " + sd.secret, Role: domain.RoleViewer,
		Groups: []string{sd.mark}, Password: "correct horse battery"}, 201, &sd.user)
	var en Enrolment
	as("POST", "/api/v1/devices", enrolRequest{Name: sd.secret + "-laptop", Owner: sd.user.ID}, 201, &en)
	sd.device = en.Device.ID
	as("PUT", "/api/v1/resources/"+sd.resource(), resourceRequest{Kind: "tcp", Address: "10.1.2.3", Port: 5432, Note: sd.secret}, 200, nil)
	as("PUT", "/api/v1/policies/"+sd.mark, draft{Source: strings.ReplaceAll(goodPolicy, "engineers reach the wiki", sd.secret), Message: sd.secret}, 200, nil)
	as("POST", "/api/v1/gateways", gatewayRequest{Name: "gw-" + sd.mark}, 201, &sd.gateway)
	var kc keyCreated
	as("POST", "/api/v1/apikeys", keyRequest{Name: sd.secret + "-key", Role: domain.RoleAuditor}, 201, &kc)
	sd.apiKey = kc.Key.ID
	var idp IdentityProvider
	as("POST", "/api/v1/identity-providers", map[string]any{"name": sd.secret + " SSO", "issuer": "https://idp." + sd.mark + ".example", "client_id": sd.secret}, 201, &idp)
	sd.idp = idp.ID

	// The gateway registers and reports a decision and an alert.
	var cred controlplane.Credential
	if code, data := tenantCall(e, "", "", "POST", "/cp/v1/register", controlplane.RegisterRequest{Token: sd.gateway.Token, Name: "gw-" + sd.mark}); code != 200 || json.Unmarshal(data, &cred) != nil {
		t.Fatalf("seeding %s: register: %d %s", id, code, data)
	}
	sd.gatewayBearer = cred.Bearer()
	now := time.Now().UTC()
	batch := controlplane.EventBatch{Events: []controlplane.Event{
		{ID: controlplane.NewEventID(), Time: now, Kind: "decision", Subject: sd.user.ID, Resource: sd.resource(), Effect: "deny", Message: sd.secret},
		{ID: controlplane.NewEventID(), Time: now, Kind: "alert", Subject: sd.user.ID, Message: sd.secret,
			Alert: &controlplane.Alert{Detector: "denial_burst", Severity: "high", Score: 50}},
	}}
	var ack controlplane.EventAck
	if code, data := tenantCall(e, strings.TrimPrefix(sd.gatewayBearer, "Bearer "), "", "POST", "/cp/v1/events", batch); code != 200 || json.Unmarshal(data, &ack) != nil || ack.Accepted != 2 {
		t.Fatalf("seeding %s: events: %d %s", id, code, data)
	}
	var alerts page[Alert]
	as("GET", "/api/v1/alerts", nil, 200, &alerts)
	if len(alerts.Items) != 1 {
		t.Fatalf("seeding %s: alerts %+v", id, alerts)
	}
	sd.alert = alerts.Items[0].ID
	return sd
}

// tenantCall makes one request with a bearer secret and, when support
// is set, the support header.
func tenantCall(e *env, bearer, support, method, path string, body any) (int, []byte) {
	var rd io.Reader = strings.NewReader("{}")
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	// Live streams never end on their own: they are cut short. Anything
	// else has long enough for a loaded machine (creating a tenant
	// migrates a store).
	wait := 30 * time.Second
	if strings.HasPrefix(path, "/api/v1/stream") || strings.HasPrefix(path, "/ws") || strings.HasPrefix(path, "/ui/live") {
		wait = 300 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(bg, wait)
	defer cancel()
	req := httptest.NewRequest(method, path, rd).WithContext(ctx)
	req.Header.Set("Authorization", "Bearer "+bearer)
	if support != "" {
		req.Header.Set(supportHeader, support)
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, req)
	return w.Code, w.Body.Bytes()
}

// tenantPath is rt's path with its parameters naming sd's things: the
// table of which parameter of which route names what. A route whose
// parameters it does not know fails the test, so that a new route is
// given its tenant rule here.
func tenantPath(t *testing.T, rt route, sd tenantSeed) string {
	t.Helper()
	path := strings.ReplaceAll(rt.path, "{$}", "")
	prefix, _, _ := strings.Cut(path, "{")
	kinds := map[string]string{
		"/api/v1/me/devices/": sd.device, "/devices/mine/": sd.device, "/devices/": sd.device, "/api/v1/devices/": sd.device,
		"/api/v1/users/": sd.user.ID, "/users/": sd.user.ID,
		"/api/v1/groups/": sd.mark, "/groups/": sd.mark,
		"/api/v1/resources/": sd.resource(), "/resources/": sd.resource(),
		"/api/v1/policies/": sd.mark, "/policies/": sd.mark,
		"/api/v1/gateways/": sd.gateway.Gateway.ID, "/gateways/": sd.gateway.Gateway.ID,
		"/api/v1/settings/": domain.SettingDeviceQuota,
		"/api/v1/alerts/":   sd.alert, "/alerts/": sd.alert,
		"/api/v1/apikeys/": sd.apiKey, "/apikeys/": sd.apiKey,
		"/api/v1/identity-providers/": sd.idp, "/identity-providers/": sd.idp,
		"/api/v1/tenants/": sd.id, "/platform/": sd.id,
	}
	if !hasParams(rt) {
		return path
	}
	v, ok := kinds[prefix]
	if !ok {
		t.Errorf("%s %s: no tenant rule for its parameters (add its prefix to tenantPath)", rt.method, rt.path)
		return ""
	}
	out := pathParam.ReplaceAllStringFunc(path, func(p string) string {
		if p == "{user}" || (p == "{id}" && strings.Contains(path, "/members/")) {
			return url.PathEscape(sd.user.ID)
		}
		return url.PathEscape(v)
	})
	return out
}

// filterQuery is every list filter and cursor of the console naming
// another tenant's things.
func filterQuery(sd tenantSeed) string {
	return "?" + url.Values{"q": {sd.mark}, "owner": {sd.user.ID}, "actor": {sd.user.ID}, "resource": {sd.resource()},
		"cursor": {sd.user.ID}, "gateway": {sd.gateway.Gateway.Name}}.Encode()
}

// TestTenantIsolationTable calls every route of the console as a
// tenant's admin with her own tenant's identifiers, with another
// tenant's, and as the platform's administrator with that other
// tenant's, on both stores. With another tenant's identifiers (in
// paths, filters, cursors and searches) an answer is a 404 or a
// refusal, never a 500 and never a byte of the other tenant's things;
// afterwards, the other tenant holds exactly what it held. Platform
// routes are the platform administrator's alone.
func TestTenantIsolationTable(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *store.DB{"sqlite": storetest.SQLite, "postgres": storetest.Postgres} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, open(t))
			platform := domain.Actor{ID: "platform-admin", Role: domain.RoleAdmin}
			for _, id := range []string{"acme", "globex"} {
				if _, err := e.srv.plat.CreateTenant(bg, platform, domain.NewTenant{ID: id, Name: strings.ToUpper(id)}); err != nil {
					t.Fatal(err)
				}
			}
			acme, globex := seedTenant(t, e, "acme"), seedTenant(t, e, "globex")
			before := tenantSnapshot(t, e, globex)
			if !strings.Contains(before, globex.mark) {
				t.Fatalf("globex's snapshot shows none of its things: %s", before)
			}

			type caller struct {
				name, bearer string
				seed         tenantSeed
			}
			same := caller{"same tenant", acme.admin, acme}
			other := caller{"other tenant", acme.admin, globex}
			plat := caller{"platform admin", e.keys[domain.RoleAdmin], globex}
			// Reading routes first with the caller's own things, so that
			// the table shows its paths reach something; then every
			// route with the other tenant's, the ones that create or
			// replace by name last (in the caller's own tenant, where
			// the name is hers to take).
			for _, rt := range e.srv.routes() {
				if rt.method != "GET" || !hasParams(rt) || rt.perm == permPlatform || rt.path == oidcBegin {
					continue
				}
				path := tenantPath(t, rt, same.seed)
				if code, body := tenantCall(e, same.bearer, "", rt.method, path, nil); code == 404 {
					t.Errorf("%s %s as %s: 404 with its own tenant's identifiers: %s", rt.method, path, same.name, body)
				}
			}
			routes := e.srv.routes()
			slices.SortStableFunc(routes, func(a, b route) int { return cmp.Compare(putLast(a), putLast(b)) })
			for _, c := range []caller{other, plat} {
				for _, rt := range routes {
					if rt.perm == permGateway || rt.path == "/logout" {
						continue // the control plane: TestGatewayStaysInItsTenant
					}
					if rt.path == oidcBegin {
						// Public, and its tenant is the organisation
						// parameter, never a credential's:
						// TestOIDCProviderStaysInItsTenant.
						continue
					}
					path := tenantPath(t, rt, c.seed)
					if rt.method == "GET" && !strings.HasPrefix(rt.path, "/static/") {
						path += filterQuery(c.seed)
					}
					code, body := tenantCall(e, c.bearer, "", rt.method, path, nil)
					if code >= 500 {
						t.Errorf("%s %s as %s: %d %s", rt.method, path, c.name, code, body)
					}
					byID := hasParams(rt) && !strings.HasPrefix(rt.path, "/api/v1/settings/")
					switch {
					case rt.perm == permPlatform && c.name != plat.name:
						if code != http.StatusForbidden {
							t.Errorf("platform route %s %s as %s: %d, want 403", rt.method, path, c.name, code)
						}
					case rt.perm == permPlatform:
						if strings.HasSuffix(rt.path, "/export") {
							continue // the platform's to read, recorded in both logs
						}
					case byID && rt.method == "GET" && code != http.StatusNotFound:
						t.Errorf("%s %s as %s with another tenant's identifiers: %d, want 404 (%s)", rt.method, path, c.name, code, body)
					case byID && rt.method != "PUT" && code < 300:
						t.Errorf("%s %s as %s with another tenant's identifiers: %d, want a refusal (%s)", rt.method, path, c.name, code, body)
					}
					if strings.Contains(string(body), c.seed.secret) {
						t.Errorf("%s %s as %s shows %s's things: %s", rt.method, path, c.name, c.seed.id, body)
					}
				}
			}
			// Another tenant's identifiers in bodies: a device for
			// globex's user is refused; a resource pinned to globex's
			// gateway (by id or name) is acme's own, and a gateway
			// reference resolves in acme only, so globex's gateway is
			// never told to serve it.
			if code, body := tenantCall(e, acme.admin, "", "POST", "/api/v1/devices", enrolRequest{Name: "stolen", Owner: globex.user.ID}); code != 400 && code != 404 {
				t.Errorf("a device for globex's user: %d %s", code, body)
			}
			for name, gw := range map[string]string{"x.acme.internal": globex.gateway.Gateway.ID, "y.acme.internal": globex.gateway.Gateway.Name} {
				if code, body := tenantCall(e, acme.admin, "", "PUT", "/api/v1/resources/"+name, resourceRequest{Kind: "tcp", Address: "10.9.9.9", Port: 22, Gateway: gw}); code != 200 {
					t.Errorf("a resource pinned to %s: %d %s", gw, code, body)
				}
			}
			if code, bundle := tenantCall(e, strings.TrimPrefix(globex.gatewayBearer, "Bearer "), "", "GET", "/cp/v1/bundle", nil); code != 200 || strings.Contains(string(bundle), "acme.internal") || !strings.Contains(string(bundle), globex.resource()) {
				t.Errorf("globex's gateway's bundle after acme pinned resources to it: %d %s", code, bundle)
			}
			// The support header without a grant reads nothing either.
			if code, body := tenantCall(e, plat.bearer, globex.id, "GET", "/api/v1/users", nil); code != http.StatusForbidden || strings.Contains(string(body), globex.secret) {
				t.Errorf("support without a grant: %d %s", code, body)
			}
			if after := tenantSnapshot(t, e, globex); after != before {
				t.Errorf("globex changed under the other callers:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// tenantSnapshot is what sd's tenant holds, as its own admin lists it,
// without the audit log (which grows with every refusal it records).
func tenantSnapshot(t *testing.T, e *env, sd tenantSeed) string {
	t.Helper()
	var b strings.Builder
	for _, path := range []string{"/api/v1/users", "/api/v1/groups", "/api/v1/devices", "/api/v1/resources", "/api/v1/policies",
		"/api/v1/gateways", "/api/v1/apikeys", "/api/v1/identity-providers", "/api/v1/settings", "/api/v1/settings/wireguard", "/api/v1/groups/" + sd.mark} {
		code, body := tenantCall(e, sd.admin, "", "GET", path, nil)
		if code != 200 {
			t.Fatalf("snapshot %s: %d %s", path, code, body)
		}
		b.WriteString(path + " " + string(body) + "\n")
	}
	return b.String()
}

// TestGatewayStaysInItsTenant registers a gateway of each tenant over
// HTTP: each gets its own tenant's bundle only, its events land in its
// own tenant's audit log only, and its credential with the other
// tenant's name in front is refused.
func TestGatewayStaysInItsTenant(t *testing.T) {
	e := newEnv(t, nil)
	for _, id := range []string{"acme", "globex"} {
		if _, err := e.srv.plat.CreateTenant(bg, domain.Actor{ID: "p", Role: domain.RoleAdmin}, domain.NewTenant{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	acme, globex := seedTenant(t, e, "acme"), seedTenant(t, e, "globex")
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	gw := map[string]*gatewayHTTP{}
	for _, sd := range []tenantSeed{acme, globex} {
		if tenant, _ := domain.SplitCredential(strings.TrimPrefix(sd.gatewayBearer, "Bearer ")); tenant != sd.id {
			t.Fatalf("%s's gateway credential names %q", sd.id, tenant)
		}
		gw[sd.id] = &gatewayHTTP{t: t, base: hs.URL, bearer: sd.gatewayBearer}
	}
	bundle := func(bearer string) (int, string) {
		req, _ := http.NewRequest("GET", hs.URL+"/cp/v1/bundle", nil)
		req.Header.Set("Authorization", bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	for _, sd := range []tenantSeed{acme, globex} {
		code, b := bundle(gw[sd.id].bearer)
		otherMark := map[string]string{"acme": globex.mark, "globex": acme.mark}[sd.id]
		if code != 200 || !strings.Contains(b, sd.mark) || strings.Contains(b, otherMark) || strings.Contains(b, map[string]string{"acme": globex.secret, "globex": acme.secret}[sd.id]) {
			t.Errorf("%s's gateway's bundle: %d, own things %v, other's %v", sd.id, code, strings.Contains(b, sd.mark), strings.Contains(b, otherMark))
		}
	}
	// acme's credential with globex's name: looked up in globex, refused.
	_, rest := domain.SplitCredential(strings.TrimPrefix(gw["acme"].bearer, "Bearer "))
	if code, _ := bundle("Bearer globex:" + rest); code != http.StatusUnauthorized {
		t.Errorf("acme's gateway credential under globex's name: %d, want 401", code)
	}
	if code, _ := bundle("Bearer " + rest); code != http.StatusUnauthorized {
		t.Errorf("acme's gateway credential without its tenant: %d, want 401", code)
	}

	// An event from acme's gateway lands in acme's log only.
	ev, _ := json.Marshal(controlplane.EventBatch{Events: []controlplane.Event{{ID: "e-acme-1", Time: time.Now().UTC(), Kind: "decision",
		Subject: acme.user.ID, Resource: acme.resource(), Effect: "allow", Message: "acmeevent"}}})
	if ack := gw["acme"].events(ev); ack.Accepted != 1 {
		t.Fatalf("acme's event refused: %+v", ack)
	}
	for _, c := range []struct {
		sd   tenantSeed
		want bool
	}{{acme, true}, {globex, false}} {
		_, body := tenantCall(e, c.sd.admin, "", "GET", "/api/v1/audit?limit=500", nil)
		if got := strings.Contains(string(body), "acmeevent"); got != c.want {
			t.Errorf("acme's gateway event in %s's log: %v, want %v", c.sd.id, got, c.want)
		}
	}
}

func putLast(rt route) int {
	if rt.method == "PUT" {
		return 1
	}
	return 0
}

// hasParams reports whether rt's path has parameters that name things.
func hasParams(rt route) bool { return pathParam.MatchString(strings.ReplaceAll(rt.path, "{$}", "")) }

// TestEventQuotaKeepsEvents fills a tenant's quota of events per day
// from its gateway over HTTP: the batch past it is refused whole with
// 429, Retry-After and the quota's name, nothing of it stored, so the
// gateway keeps it; once the platform raises the quota the same batch
// is taken.
func TestEventQuotaKeepsEvents(t *testing.T) {
	e := newEnv(t, nil)
	platformKey := e.keys[domain.RoleAdmin]
	if code, body := tenantCall(e, platformKey, "", "POST", "/api/v1/tenants", tenantRequest{ID: "acme", Name: "Acme"}); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	acme := seedTenant(t, e, "acme")
	var tn Tenant
	if code, body := tenantCall(e, platformKey, "", "GET", "/api/v1/tenants/acme", nil); code != 200 || json.Unmarshal(body, &tn) != nil || tn.Usage == nil {
		t.Fatalf("tenant: %d %s", code, body)
	}
	setQuota := func(n int) {
		t.Helper()
		q := store.Quotas{EventsPerDay: n}
		if code, body := tenantCall(e, platformKey, "", "PATCH", "/api/v1/tenants/acme", tenantPatch{Quotas: &q}); code != 200 {
			t.Fatalf("quota: %d %s", code, body)
		}
	}
	// Room for one more entry today, after the change's own entry.
	setQuota(int(tn.Usage.EventsToday) + 2)
	batch := func(ids ...string) controlplane.EventBatch {
		var b controlplane.EventBatch
		for _, id := range ids {
			b.Events = append(b.Events, controlplane.Event{ID: id, Time: time.Now().UTC(), Kind: "decision", Subject: acme.user.ID, Resource: acme.resource(), Effect: "allow"})
		}
		return b
	}
	post := func(b controlplane.EventBatch) (int, http.Header, string) {
		data, _ := json.Marshal(b)
		req := httptest.NewRequest("POST", "/cp/v1/events", strings.NewReader(string(data)))
		req.Header.Set("Authorization", acme.gatewayBearer)
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
		return w.Code, w.Header(), w.Body.String()
	}
	code, h, body := post(batch("q1", "q2"))
	if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" || !strings.Contains(body, "tenant_quota") || !strings.Contains(body, "events per day") {
		t.Fatalf("batch past the quota: %d %v %s", code, h, body)
	}
	if _, audit := tenantCall(e, acme.admin, "", "GET", "/api/v1/audit?limit=500", nil); strings.Contains(string(audit), ":q1") {
		t.Fatalf("a refused batch was stored: %s", audit)
	}
	if code, _, body := post(batch("q1")); code != 200 || !strings.Contains(body, `"accepted":1`) {
		t.Fatalf("batch within the quota: %d %s", code, body)
	}
	if code, _, _ := post(batch("q2")); code != http.StatusTooManyRequests {
		t.Fatalf("batch past the quota, again: %d", code)
	}
	setQuota(0)
	if code, _, body := post(batch("q1", "q2")); code != 200 || !strings.Contains(body, `"accepted":1`) || !strings.Contains(body, `"duplicates":1`) {
		t.Fatalf("the kept batch after the quota is lifted: %d %s", code, body)
	}
}

// TestLiveEventsStayInTheirTenant opens every live stream (SSE, /ws,
// the dashboard's feed) as each tenant's admin and as the platform's,
// then has globex's gateway report a decision and acme's one: acme's
// streams carry acme's decision and never globex's, the platform's
// carry neither.
func TestLiveEventsStayInTheirTenant(t *testing.T) {
	e := newEnv(t, nil)
	for _, id := range []string{"acme", "globex"} {
		if _, err := e.srv.plat.CreateTenant(bg, domain.Actor{ID: "p", Role: domain.RoleAdmin}, domain.NewTenant{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	acme, globex := seedTenant(t, e, "acme"), seedTenant(t, e, "globex")
	hs := httptest.NewServer(e.srv)
	ctx, cancel := context.WithCancel(bg)
	t.Cleanup(func() { cancel(); hs.CloseClientConnections(); hs.Close() })
	type stream struct {
		name string
		lr   *liveReader
	}
	open := func(who, bearer string) []stream {
		return []stream{
			{who + " SSE", openSSEWith(t, ctx, hs.URL, "/api/v1/stream", bearer)},
			{who + " ws", openWSWith(t, ctx, hs.URL, bearer)},
			{who + " feed", openSSEWith(t, ctx, hs.URL, "/ui/live", bearer)},
		}
	}
	acmeStreams, platStreams := open("acme", acme.admin), open("platform", e.keys[domain.RoleAdmin])
	time.Sleep(200 * time.Millisecond) // let the subscriptions start
	report := func(sd tenantSeed, id string) {
		raw, _ := json.Marshal(controlplane.EventBatch{Events: []controlplane.Event{{ID: id, Time: time.Now().UTC(), Kind: "decision",
			Subject: sd.user.ID, Resource: sd.resource(), Effect: "deny", Message: sd.secret}}})
		g := &gatewayHTTP{t: t, base: hs.URL, bearer: sd.gatewayBearer}
		if ack := g.events(raw); ack.Accepted != 1 {
			t.Fatalf("%s's event: %+v", sd.id, ack)
		}
	}
	report(globex, "live-globex")
	report(acme, "live-acme")
	for _, s := range acmeStreams {
		got := strings.Join(s.lr.until(t, s.name, acme.user.ID), "\n")
		if strings.Contains(got, globex.user.ID) || strings.Contains(got, globex.mark) {
			t.Errorf("%s carries globex's decision:\n%s", s.name, got)
		}
	}
	// The platform's streams: a status of its own gateway marks the end.
	g := registerGatewayHTTP(t, e, hs.URL, "edge-platform")
	if code, body := g.post("/cp/v1/status", controlplane.Status{BundleVersion: 1, Message: "platform-sentinel"}); code != 204 {
		t.Fatalf("status: %d %s", code, body)
	}
	for _, s := range platStreams[:2] {
		got := strings.Join(s.lr.until(t, s.name, "platform-sentinel"), "\n")
		if strings.Contains(got, globex.mark) || strings.Contains(got, acme.mark) {
			t.Errorf("%s carries a tenant's decision:\n%s", s.name, got)
		}
	}
}

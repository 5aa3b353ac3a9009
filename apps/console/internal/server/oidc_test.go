package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/oidctest"
	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// The OpenID Connect tests run against a real provider, oidc-provider
// (see package oidctest), on 127.0.0.1, and drive the whole flow with an
// http.Client and a cookie jar: console → provider → console.

// oidcEnv is a console on loopback and a provider whose clients send
// people back to it.
type oidcEnv struct {
	e  *env
	hs *httptest.Server
	p  *oidctest.Provider
}

var oidcAccounts = map[string]oidctest.Account{
	"ann": {Email: "Ann@Example.com", EmailVerified: true, Name: "Ann"},
	"bob": {Email: "bob@example.com", EmailVerified: true},
	"zed": {Email: "zed@example.com", EmailVerified: true},
	"eve": {Email: "eve@example.com", EmailVerified: false},
	"mia": {Email: "mia@example.com", EmailVerified: true, AMR: []string{"pwd", "otp"}},
	"dan": {Email: "dan@example.com", EmailVerified: true},
}

func newOIDCEnv(t *testing.T) *oidcEnv {
	e := newEnv(t, nil)
	// Every sign-in here comes from one address: more than the login
	// throttle lets through in a few seconds.
	e.srv.loginIP = newThrottle(1000, time.Millisecond)
	hs := httptest.NewServer(e.srv)
	t.Cleanup(hs.Close)
	cb := []string{hs.URL + oidcCallback}
	p := oidctest.Start(t, []oidctest.Client{{ID: "console", Secret: "console-secret", RedirectURIs: cb}, {ID: "other", Secret: "other-secret", RedirectURIs: cb}}, oidcAccounts)
	return &oidcEnv{e: e, hs: hs, p: p}
}

// addProvider adds a provider to the default tenant through the API.
func (o *oidcEnv) addProvider(t *testing.T, req map[string]any) IdentityProvider {
	t.Helper()
	body := map[string]any{"name": "Test IdP", "issuer": o.p.Issuer, "client_id": "console", "client_secret": "console-secret"}
	for k, v := range req {
		body[k] = v
	}
	var ip IdentityProvider
	o.e.mustCall(domain.RoleAdmin, "POST", "/api/v1/identity-providers", body, 201, &ip)
	return ip
}

// signIn starts a sign-in with provider id as account, follows every
// redirect and returns the last answer and the browser.
func (o *oidcEnv) signIn(t *testing.T, path, account string) (int, string, *http.Client) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: o.p.AsAccount(account)}
	code, body := getBody(t, c, o.hs.URL+path)
	return code, body, c
}

func getBody(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// callbackOf runs the provider's part of a sign-in and returns the
// callback URL the provider sent the browser to, not yet followed.
func (o *oidcEnv) callbackOf(t *testing.T, id, account string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(o.hs.URL + "/login/oidc/" + id)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("begin: %d", resp.StatusCode)
	}
	back := o.p.Code(t, c, resp.Header.Get("Location"), o.hs.URL+oidcCallback, account)
	return c, back.String()
}

func (o *oidcEnv) stateCookie(c *http.Client) *http.Cookie {
	u, _ := url.Parse(o.hs.URL + oidcCallback)
	for _, k := range c.Jar.Cookies(u) {
		if k.Name == oidcStateCookie {
			return k
		}
	}
	return nil
}

func (o *oidcEnv) setStateCookie(c *http.Client, v string) {
	u, _ := url.Parse(o.hs.URL + oidcCallback)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: oidcStateCookie, Value: v, Path: oidcCallback}})
}

// failures are the reasons of the login.failed entries of OpenID
// Connect sign-ins, oldest last.
func failures(t *testing.T, st store.Store) []string {
	t.Helper()
	es, err := st.ListAudit(bg, store.AuditFilter{Action: "login.failed", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		var d struct{ Reason, Method string }
		json.Unmarshal(e.Detail, &d)
		out = append(out, d.Reason)
	}
	return out
}

func wantFailure(t *testing.T, st store.Store, prefix string) {
	t.Helper()
	fs := failures(t, st)
	if len(fs) == 0 || !strings.HasPrefix(fs[0], prefix) {
		t.Errorf("last login.failed reason %q, want %q (all: %q)", fs, prefix, fs)
	}
}

func TestOIDCSignIn(t *testing.T) {
	o := newOIDCEnv(t)
	e := o.e
	jit := o.addProvider(t, map[string]any{"name": "JIT", "provisioning": "jit", "default_role": "operator"})
	invite := o.addProvider(t, map[string]any{"name": "Invite", "provisioning": "invite"})
	trusting := o.addProvider(t, map[string]any{"name": "Trusting", "provisioning": "jit", "trust_email": true})

	t.Run("the secret is never shown", func(t *testing.T) {
		resp := e.call(domain.RoleAdmin, "GET", "/api/v1/identity-providers/"+jit.ID, nil, nil)
		b, _ := io.ReadAll(resp.Body)
		if strings.Contains(string(b), "console-secret") || !strings.Contains(string(b), `"has_client_secret":true`) {
			t.Fatalf("provider: %s", b)
		}
		st, _ := e.st.IdentityProvider(bg, jit.ID)
		if !domain.IsSealed(st.ClientSecret) {
			t.Fatalf("stored secret is not sealed: %q", st.ClientSecret)
		}
	})

	t.Run("the login page offers the providers", func(t *testing.T) {
		_, body, _ := o.signIn(t, "/login", "")
		for _, ip := range []IdentityProvider{jit, invite, trusting} {
			if !strings.Contains(body, "/login/oidc/"+ip.ID) {
				t.Errorf("login page has no button for %s", ip.Name)
			}
		}
	})

	t.Run("jit makes the user with the default role", func(t *testing.T) {
		code, body, c := o.signIn(t, "/login/oidc/"+jit.ID, "ann")
		if code != 200 || !strings.Contains(body, "ann@example.com") {
			t.Fatalf("after sign-in: %d %s", code, body)
		}
		u, err := e.st.UserByEmail(bg, "ann@example.com")
		if err != nil || u.Role != domain.RoleOperator || u.Name != "Ann" {
			t.Fatalf("user %+v %v", u, err)
		}
		if code, _ := getBody(t, c, o.hs.URL+"/api/v1/me"); code != 200 {
			t.Fatalf("/api/v1/me with the new session: %d", code)
		}
		es, _ := e.st.ListAudit(bg, store.AuditFilter{Action: "login", Actor: u.ID})
		var d struct {
			Method, Provider string
			MFA              bool
		}
		if len(es) != 1 || json.Unmarshal(es[0].Detail, &d) != nil || d.Method != "oidc" || d.Provider != jit.ID || d.MFA {
			t.Fatalf("login entry %+v", es)
		}
		// Again: the same user, not a second one, back on the page she
		// asked for.
		if code, body, _ := o.signIn(t, "/login/oidc/"+jit.ID+"?next=/devices", "ann"); code != 200 || !strings.Contains(body, "<title>Devices") {
			t.Fatalf("second sign-in: %d", code)
		}
		if us, _ := e.st.ListUsers(bg, store.ListOptions{Query: "ann@"}); len(us) != 1 {
			t.Fatalf("users %+v", us)
		}
		// A next too long for the state returns to the dashboard.
		if code, body, _ := o.signIn(t, "/login/oidc/"+jit.ID+"?next=/devices?q="+strings.Repeat("a", 2000), "ann"); code != 200 || strings.Contains(body, "<title>Devices") {
			t.Fatalf("long next: %d", code)
		}
	})

	t.Run("amr with a second factor makes an MFA session", func(t *testing.T) {
		if code, _, _ := o.signIn(t, "/login/oidc/"+jit.ID, "mia"); code != 200 {
			t.Fatalf("sign-in: %d", code)
		}
		u, _ := e.st.UserByEmail(bg, "mia@example.com")
		es, _ := e.st.ListAudit(bg, store.AuditFilter{Action: "login", Actor: u.ID})
		if len(es) != 1 || !strings.Contains(string(es[0].Detail), `"mfa":true`) {
			t.Fatalf("login entry %+v", es)
		}
	})

	t.Run("invite refuses an unknown email and accepts a known one", func(t *testing.T) {
		if code, body, _ := o.signIn(t, "/login/oidc/"+invite.ID, "zed"); code != 401 || !strings.Contains(body, "single sign-on failed") {
			t.Fatalf("unknown email: %d %s", code, body)
		}
		wantFailure(t, e.st, "not invited")
		if _, err := e.st.UserByEmail(bg, "zed@example.com"); err == nil {
			t.Fatal("invite-only made a user")
		}
		addUser(t, e.st, "bob@example.com", "correct horse battery", domain.RoleViewer)
		if code, _, _ := o.signIn(t, "/login/oidc/"+invite.ID, "bob"); code != 200 {
			t.Fatalf("known email: %d", code)
		}
	})

	t.Run("a disabled user is refused", func(t *testing.T) {
		u := addUser(t, e.st, "dan@example.com", "correct horse battery", domain.RoleViewer)
		e.mustCall(domain.RoleAdmin, "PATCH", "/api/v1/users/"+u.ID, map[string]any{"disabled": true}, 200, nil)
		if code, _, _ := o.signIn(t, "/login/oidc/"+invite.ID, "dan"); code != 401 {
			t.Fatalf("disabled: %d", code)
		}
		wantFailure(t, e.st, "disabled")
	})

	t.Run("an unverified email is refused unless the provider is trusted", func(t *testing.T) {
		if code, _, _ := o.signIn(t, "/login/oidc/"+jit.ID, "eve"); code != 401 {
			t.Fatalf("unverified: %d", code)
		}
		wantFailure(t, e.st, "email not verified")
		if code, _, _ := o.signIn(t, "/login/oidc/"+trusting.ID, "eve"); code != 200 {
			t.Fatalf("unverified with trust_email: %d", code)
		}
	})

	t.Run("a state that is not the browser's is refused", func(t *testing.T) {
		c, back := o.callbackOf(t, jit.ID, "ann")
		u, _ := url.Parse(back)
		q := u.Query()
		q.Set("state", strings.Repeat("x", len(q.Get("state"))))
		u.RawQuery = q.Encode()
		if code, _ := getBody(t, c, u.String()); code != 401 {
			t.Fatalf("wrong state: %d", code)
		}
		wantFailure(t, e.st, "state")

		c, back = o.callbackOf(t, jit.ID, "ann")
		o.setStateCookie(c, "")
		if code, _ := getBody(t, c, back); code != 401 {
			t.Fatalf("no state cookie: %d", code)
		}
		wantFailure(t, e.st, "state")

		c, back = o.callbackOf(t, jit.ID, "ann")
		v := o.stateCookie(c).Value
		o.setStateCookie(c, v[:len(v)-4]+"AAAA")
		if code, _ := getBody(t, c, back); code != 401 {
			t.Fatalf("a changed state cookie: %d", code)
		}
		wantFailure(t, e.st, "state")
	})

	t.Run("an authorization code works once", func(t *testing.T) {
		c, back := o.callbackOf(t, jit.ID, "ann")
		v := o.stateCookie(c).Value
		if code, _ := getBody(t, c, back); code != http.StatusSeeOther {
			t.Fatalf("first use: %d, want the redirect into the console", code)
		}
		// The callback dropped the state; a replay brings it back.
		o.setStateCookie(c, v)
		if code, _ := getBody(t, c, back); code != 401 {
			t.Fatalf("replayed code: %d", code)
		}
		wantFailure(t, e.st, "code exchange: invalid_grant")
	})

	t.Run("a nonce that is not the sign-in's is refused", func(t *testing.T) {
		c, back := o.callbackOf(t, jit.ID, "ann")
		// The cookie is sealed with the console's key: only the
		// console (here, the test with its key) can change it.
		dom := e.srv.plat.Default()
		st, err := dom.OpenOIDCState(o.stateCookie(c).Value)
		if err != nil {
			t.Fatal(err)
		}
		st.Nonce = domain.RandomToken()
		o.setStateCookie(c, dom.SealOIDCState(st))
		if code, _ := getBody(t, c, back); code != 401 {
			t.Fatalf("wrong nonce: %d", code)
		}
		wantFailure(t, e.st, "id token: the ID token's nonce")
	})

	t.Run("sso.required keeps passwords for admins only", func(t *testing.T) {
		addUser(t, e.st, "vic@example.com", "correct horse battery", domain.RoleViewer)
		addUser(t, e.st, "ada@example.com", "correct horse battery", domain.RoleAdmin)
		e.mustCall(domain.RoleAdmin, "PUT", "/api/v1/settings/"+domain.SettingSSORequired, map[string]string{"value": "true"}, 200, nil)
		defer e.mustCall(domain.RoleAdmin, "PUT", "/api/v1/settings/"+domain.SettingSSORequired, map[string]string{"value": ""}, 200, nil)
		b := newBrowser(t, o.hs)
		tok := b.csrf("/login")
		resp, body := b.post("/login", url.Values{"csrf": {tok}, "email": {"vic@example.com"}, "password": {"correct horse battery"}})
		if resp.StatusCode != 403 || !strings.Contains(body, "single sign-on") {
			t.Fatalf("viewer's password under sso.required: %d", resp.StatusCode)
		}
		wantFailure(t, e.st, "sso_required")
		if resp := newBrowser(t, o.hs).login("ada@example.com", "correct horse battery", ""); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("admin's password under sso.required: %d", resp.StatusCode)
		}
		if code, _, _ := o.signIn(t, "/login/oidc/"+invite.ID, "bob"); code != 200 {
			t.Fatalf("single sign-on under sso.required: %d", code)
		}
	})

	t.Run("the console allowlist holds single sign-on too", func(t *testing.T) {
		set := func(v string) {
			e.mustCall(domain.RoleAdmin, "PUT", "/api/v1/settings/"+domain.SettingConsoleAllowlist, map[string]string{"value": v}, 200, nil)
		}
		set("10.0.0.0/8 admin:192.0.2.1")
		defer set("")
		if code, _, _ := o.signIn(t, "/login/oidc/"+jit.ID, "ann"); code != http.StatusForbidden {
			t.Fatalf("from outside the allowlist: %d", code)
		}
		// Operators may sign in from here, viewers may not: bob is
		// signed in by the provider and refused for his role.
		set("10.0.0.0/8 operator:127.0.0.1 admin:192.0.2.1")
		if code, _, _ := o.signIn(t, "/login/oidc/"+jit.ID, "ann"); code != 200 {
			t.Fatalf("an operator from an allowed address: %d", code)
		}
		code, _, c := o.signIn(t, "/login/oidc/"+invite.ID, "bob")
		if code != http.StatusForbidden {
			t.Fatalf("a viewer from an operators' address: %d", code)
		}
		if code, _ := getBody(t, c, o.hs.URL+"/api/v1/me"); code != 401 {
			t.Fatalf("the refused viewer has a session: %d", code)
		}
	})

	t.Run("a provider that is down fails clearly and passwords still work", func(t *testing.T) {
		down := oidctest.Start(t, []oidctest.Client{{ID: "console", Secret: "s", RedirectURIs: []string{o.hs.URL + oidcCallback}}}, oidcAccounts)
		ip := o.addProvider(t, map[string]any{"name": "Down", "issuer": down.Issuer})
		down.Stop()
		code, body, _ := o.signIn(t, "/login/oidc/"+ip.ID, "ann")
		if code != http.StatusBadGateway || !strings.Contains(body, "cannot be reached") {
			t.Fatalf("provider down: %d %s", code, body)
		}
		if resp := newBrowser(t, o.hs).login("bob@example.com", "correct horse battery", ""); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("password while the provider is down: %d", resp.StatusCode)
		}
	})

	t.Run("every refusal is in the audit log", func(t *testing.T) {
		es, _ := e.st.ListAudit(bg, store.AuditFilter{Action: "login.failed", Limit: 1000})
		n := 0
		for _, en := range es {
			if strings.Contains(string(en.Detail), `"method":"oidc"`) {
				n++
			}
		}
		if n < 8 {
			t.Fatalf("%d single sign-on refusals recorded, want at least 8", n)
		}
	})
}

// TestOIDCProviderStaysInItsTenant: a tenant's provider signs people in
// to that tenant only, chosen by the organisation parameter, and is not
// found under another.
func TestOIDCProviderStaysInItsTenant(t *testing.T) {
	o := newOIDCEnv(t)
	e := o.e
	if _, err := e.srv.plat.CreateTenant(bg, domain.Actor{ID: "p", Role: domain.RoleAdmin}, domain.NewTenant{ID: "acme", Name: "ACME"}); err != nil {
		t.Fatal(err)
	}
	acme, err := e.srv.plat.Service(bg, "acme")
	if err != nil {
		t.Fatal(err)
	}
	ip, err := acme.CreateIdentityProvider(bg, domain.System, domain.IdentityProviderPatch{Name: ptr("ACME SSO"), Issuer: ptr(o.p.Issuer),
		ClientID: ptr("console"), ClientSecret: ptr("console-secret"), Provisioning: ptr(domain.ProvisionJIT)})
	if err != nil {
		t.Fatal(err)
	}
	if _, body, _ := o.signIn(t, "/login?organisation=acme", ""); !strings.Contains(body, "/login/oidc/"+ip.ID+"?organisation=acme") {
		t.Fatal("acme's login page has no button for its provider")
	}
	if _, body, _ := o.signIn(t, "/login", ""); strings.Contains(body, ip.ID) {
		t.Fatal("the default tenant's login page shows acme's provider")
	}
	if code, _, _ := o.signIn(t, "/login/oidc/"+ip.ID, "ann"); code != 404 {
		t.Fatalf("acme's provider under the default tenant: %d", code)
	}
	if code, _, _ := o.signIn(t, "/login/oidc/"+ip.ID+"?organisation=acme", "ann"); code != 200 {
		t.Fatalf("acme's provider: %d", code)
	}
	if _, err := e.st.UserByEmail(bg, "ann@example.com"); err == nil {
		t.Fatal("the default tenant got acme's user")
	}
	if us, _ := acme.ListUsers(bg, domain.System, domain.ListOptions{}); len(us) != 1 || us[0].Email != "ann@example.com" {
		t.Fatalf("acme's users %+v", us)
	}
}

func ptr[T any](v T) *T { return &v }

// TestIdentityProvidersPage: an admin adds and removes providers on the
// page, a bad issuer is refused and adds nothing, the secret never
// appears, and other roles are refused the page.
func TestIdentityProvidersPage(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	addUser(t, e.st, "ada@example.com", "correct horse battery", domain.RoleAdmin)
	addUser(t, e.st, "opal@example.com", "correct horse battery", domain.RoleOperator)
	ada, opal := newBrowser(t, hs), newBrowser(t, hs)
	for b, email := range map[*browser]string{ada: "ada@example.com", opal: "opal@example.com"} {
		if resp := b.login(email, "correct horse battery", ""); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login %s: %d", email, resp.StatusCode)
		}
	}
	if code, _ := opal.get("/identity-providers"); code != http.StatusForbidden {
		t.Errorf("operator GET /identity-providers: %d, want 403", code)
	}
	add := func(issuer string) {
		t.Helper()
		resp, _ := ada.post("/identity-providers", url.Values{"csrf": {ada.csrf("/identity-providers")}, "name": {"Keycloak"}, "issuer": {issuer},
			"client_id": {"gonaut"}, "client_secret": {"very-secret-value"}, "scopes": {"openid email"}, "provisioning": {"jit"}, "default_role": {"auditor"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("add %s: %d", issuer, resp.StatusCode)
		}
	}
	add("ftp://sso.example.com")
	add("http://sso.example.com/realms/acme") // http only on 127.0.0.1
	if ps, _ := e.st.ListIdentityProviders(bg); len(ps) != 0 {
		t.Fatalf("a bad issuer was stored: %+v", ps)
	}
	add("https://sso.example.com/realms/acme")
	ps, _ := e.st.ListIdentityProviders(bg)
	if len(ps) != 1 || ps[0].DefaultRole != domain.RoleAuditor || ps[0].Provisioning != "jit" || ps[0].Scopes != "openid email" {
		t.Fatalf("stored %+v", ps)
	}
	_, page := ada.get("/identity-providers")
	if !strings.Contains(page, "https://sso.example.com/realms/acme") || strings.Contains(page, "very-secret-value") {
		t.Fatal("the page does not list the provider, or shows its secret")
	}
	if es, _ := e.st.ListAudit(bg, store.AuditFilter{Action: "identity_provider.create"}); len(es) != 1 || strings.Contains(string(es[0].Detail), "very-secret-value") {
		t.Fatalf("audit %+v", es)
	}
	if resp, _ := ada.post("/identity-providers/"+ps[0].ID+"/remove", url.Values{"csrf": {ada.csrf("/identity-providers")}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("remove: %d", resp.StatusCode)
	}
	if ps, _ := e.st.ListIdentityProviders(bg); len(ps) != 0 {
		t.Fatalf("not removed: %+v", ps)
	}
}

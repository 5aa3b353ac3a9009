package server

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/pquerna/otp/totp"
)

// browser is a cookie-keeping HTTP client of a console on loopback.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, hs *httptest.Server) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: hs.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (b *browser) csrf(path string) string {
	b.t.Helper()
	_, body := b.get(path)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("no CSRF token on %s", path)
	}
	return m[1]
}

func (b *browser) login(email, pw, code string) *http.Response {
	tok := b.csrf("/login")
	resp, _ := b.post("/login", url.Values{"csrf": {tok}, "email": {email}, "password": {pw}, "code": {code}})
	return resp
}

// signedIn is a browser signed in as email, whose password is
// "correct horse battery".
func signedIn(t *testing.T, hs *httptest.Server, email string) *browser {
	t.Helper()
	b := newBrowser(t, hs)
	if resp := b.login(email, "correct horse battery", ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login as %s: %d", email, resp.StatusCode)
	}
	return b
}

func (b *browser) sessionCookie() string {
	u, _ := url.Parse(b.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == sessionCookie {
			return c.Value
		}
	}
	return ""
}

func addUser(t *testing.T, st store.Store, email, pw string, role domain.Role) *store.User {
	u := &store.User{Email: email, Name: email, Role: role, PasswordHash: domain.HashPassword(pw)}
	if err := st.CreateUser(bg, u); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestLoginTOTPAndCSRF(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	addUser(t, e.st, "ada@example.com", "correct horse battery", domain.RoleAdmin)
	b := newBrowser(t, hs)

	if code, _ := b.get("/"); code != http.StatusSeeOther {
		t.Fatalf("dashboard before login: %d", code)
	}
	// A login form post without the login page's token is refused.
	if resp, _ := b.post("/login", url.Values{"email": {"ada@example.com"}, "password": {"correct horse battery"}}); resp.StatusCode != 403 {
		t.Errorf("login without CSRF: %d", resp.StatusCode)
	}
	if resp := b.login("ada@example.com", "wrong password!", ""); resp.StatusCode != 401 {
		t.Errorf("wrong password: %d", resp.StatusCode)
	}
	// A cookie planted before login is not the session after it.
	u, _ := url.Parse(hs.URL)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: "planted", Path: "/"}})
	resp := b.login("ada@example.com", "correct horse battery", "")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	first := b.sessionCookie()
	if first == "" || first == "planted" {
		t.Fatalf("session not rotated: %q", first)
	}
	var sc *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			sc = c
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode {
		t.Errorf("session cookie attributes: %+v", sc)
	}
	if code, body := b.get("/"); code != 200 || !strings.Contains(body, "Dashboard") {
		t.Fatalf("dashboard after login: %d", code)
	}
	// A form without the session's CSRF token is refused; with it, accepted.
	if resp, _ := b.post("/resources", url.Values{"name": {"x"}, "kind": {"tcp"}}); resp.StatusCode != 403 {
		t.Errorf("form without CSRF: %d", resp.StatusCode)
	}
	tok := b.csrf("/resources")
	if resp, _ := b.post("/resources", url.Values{"csrf": {tok}, "name": {"x"}, "kind": {"tcp"}, "address": {"10.0.0.1:22"}}); resp.StatusCode != http.StatusSeeOther || strings.Contains(resp.Header.Get("Location"), "error=") {
		t.Errorf("form with CSRF: %d", resp.StatusCode)
	}
	// API calls with the session cookie need the token in a header.
	req, _ := http.NewRequest("PUT", hs.URL+"/api/v1/resources/y", strings.NewReader(`{"kind":"tcp"}`))
	r2, _ := b.c.Do(req)
	r2.Body.Close()
	if r2.StatusCode != 403 {
		t.Errorf("API PUT with cookie and no CSRF header: %d", r2.StatusCode)
	}
	req, _ = http.NewRequest("PUT", hs.URL+"/api/v1/resources/y", strings.NewReader(`{"kind":"tcp","address":"10.0.0.1:22"}`))
	req.Header.Set("X-CSRF-Token", tok)
	r2, _ = b.c.Do(req)
	r2.Body.Close()
	if r2.StatusCode != 200 {
		t.Errorf("API PUT with CSRF header: %d", r2.StatusCode)
	}

	// Enrol TOTP through the pages.
	// A session alone cannot add a factor; the password can.
	if resp, _ := b.post("/account/totp", url.Values{"csrf": {tok}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("first enrolment without the password: %d, want a redirect back with an error", resp.StatusCode)
	}
	_, body := b.post("/account/totp", url.Values{"csrf": {tok}, "password": {"correct horse battery"}})
	secret := regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`).FindStringSubmatch(body)
	if secret == nil {
		t.Fatalf("no TOTP secret shown: %s", body)
	}
	code, _ := totp.GenerateCode(secret[1], time.Now())
	_, body = b.post("/account/totp/confirm", url.Values{"csrf": {tok}, "code": {code}})
	recovery := regexp.MustCompile(`<code>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</code>`).FindAllStringSubmatch(body, -1)
	if len(recovery) != 10 {
		t.Fatalf("%d recovery codes shown", len(recovery))
	}

	// Log out; log in again now needs the code.
	b.post("/logout", url.Values{"csrf": {tok}})
	if code, _ := b.get("/"); code != http.StatusSeeOther {
		t.Errorf("still logged in after logout: %d", code)
	}
	if resp := b.login("ada@example.com", "correct horse battery", ""); resp.StatusCode != 401 {
		t.Errorf("login without TOTP code: %d", resp.StatusCode)
	}
	// The code that confirmed the enrolment is used up (see
	// TestTOTPCodeSingleUse); the next step's code is within the skew.
	code, _ = totp.GenerateCode(secret[1], time.Now().Add(domain.TOTPPeriod*time.Second))
	if resp := b.login("ada@example.com", "correct horse battery", code); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login with TOTP: %d", resp.StatusCode)
	}
	se, _ := e.st.Session(bg, tokenHash(b.sessionCookie()))
	if se == nil || !se.MFA {
		t.Errorf("session does not record MFA: %+v", se)
	}
	// A recovery code works once.
	rc := recovery[0][1]
	b2 := newBrowser(t, hs)
	if resp := b2.login("ada@example.com", "correct horse battery", rc); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("login with a recovery code: %d", resp.StatusCode)
	}
	b3 := newBrowser(t, hs)
	if resp := b3.login("ada@example.com", "correct horse battery", rc); resp.StatusCode != 401 {
		t.Errorf("second use of a recovery code: %d", resp.StatusCode)
	}
}

func TestBackoffAndTimeouts(t *testing.T) {
	st := newEnv(t, nil).st
	now := time.Now()
	clock := func() time.Time { return now }
	srv, _ := New(st, &Options{Now: func() time.Time { return clock() }, BackoffAfter: 3, BackoffBase: time.Minute, BackoffMax: 4 * time.Minute, SessionIdle: 10 * time.Minute, SessionMax: time.Hour})
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	addUser(t, st, "bob@example.com", "correct horse battery", domain.RoleViewer)
	b := newBrowser(t, hs)
	for range 3 {
		b.login("bob@example.com", "nope nope nope", "")
	}
	if resp := b.login("bob@example.com", "correct horse battery", ""); resp.StatusCode != 401 {
		t.Errorf("backed-off source logged in: %d", resp.StatusCode)
	}
	// The wait doubles with every further checked failure: 1, 2, then 4
	// minutes, which is the cap.
	for _, wait := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute} {
		now = now.Add(wait + time.Second)
		b.login("bob@example.com", "nope nope nope", "")
	}
	now = now.Add(4*time.Minute - time.Second)
	if resp := b.login("bob@example.com", "correct horse battery", ""); resp.StatusCode != 401 {
		t.Errorf("login before the capped wait ended: %d", resp.StatusCode)
	}
	now = now.Add(2 * time.Second)
	if resp := b.login("bob@example.com", "correct horse battery", ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login after the backoff: %d", resp.StatusCode)
	}
	// Idle timeout.
	now = now.Add(11 * time.Minute)
	if code, _ := b.get("/"); code != http.StatusSeeOther {
		t.Errorf("idle session still valid: %d", code)
	}
	// Absolute timeout despite activity.
	b.login("bob@example.com", "correct horse battery", "")
	for range 7 {
		now = now.Add(9 * time.Minute)
		b.get("/")
	}
	if code, _ := b.get("/"); code != http.StatusSeeOther {
		t.Errorf("session outlived its absolute timeout: %d", code)
	}
	// Viewers cannot open the audit page; the page says so.
	b.login("bob@example.com", "correct horse battery", "")
	if code, body := b.get("/audit"); code != 403 || !strings.Contains(body, "Not for your role") {
		t.Errorf("viewer on /audit: %d", code)
	}
}

func TestLoginThrottle(t *testing.T) {
	th := newThrottle(3, time.Second)
	now := time.Now()
	for i := range 3 {
		if !th.allow("k", now) {
			t.Fatalf("attempt %d refused", i)
		}
	}
	if th.allow("k", now) {
		t.Error("fourth attempt in a burst of 3 allowed")
	}
	if !th.allow("k", now.Add(1100*time.Millisecond)) {
		t.Error("attempt after the interval refused")
	}
}

// TestThrottleTakeAllOrNothing: take spends from every bucket or, when
// one is empty, from none, each at its own rate, and says what is left.
func TestThrottleTakeAllOrNothing(t *testing.T) {
	th := newThrottle(1, time.Hour)
	now := time.Now()
	small := func() *bucket { return &bucket{key: "small", burst: 2, interval: time.Second} }
	big := func() *bucket { return &bucket{key: "big", burst: 10, interval: time.Second} }
	for i := range 2 {
		s, b := small(), big()
		if !th.take(now, []*bucket{s, b}) {
			t.Fatalf("request %d refused", i)
		}
		if s.remaining != 1-i || b.remaining != 9-i || s.full != time.Duration(i+1)*time.Second {
			t.Fatalf("request %d: small %+v, big %+v", i, s, b)
		}
	}
	s, b := small(), big()
	if th.take(now, []*bucket{s, b}) || !s.refused || b.refused || s.wait != time.Second {
		t.Fatalf("third request: small %+v, big %+v", s, b)
	}
	if b.remaining != 8 || b.full != 2*time.Second {
		t.Errorf("the big bucket after a refusal: %+v, want 8 left as before", b)
	}
	if b := big(); !th.take(now, []*bucket{b}) || b.remaining != 7 {
		t.Errorf("the big bucket alone: %+v", b)
	}
	if s := small(); !th.take(now.Add(time.Second), []*bucket{s}) || s.remaining != 0 {
		t.Errorf("the small bucket a second later: %+v", s)
	}
}

func TestSelfServiceDevices(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	key, _ := totp.Generate(totp.GenerateOpts{Issuer: "Gonaut", AccountName: "v@example.com"})
	u := &store.User{Email: "v@example.com", Role: domain.RoleViewer, PasswordHash: domain.HashPassword("correct horse battery"), TOTPSecret: key.Secret(), TOTPEnabled: true}
	e.st.CreateUser(bg, u)
	b := newBrowser(t, hs)
	code, _ := totp.GenerateCode(key.Secret(), time.Now())
	if resp := b.login("v@example.com", "correct horse battery", code); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	tok := b.csrf("/account")
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
		req.Header.Set("X-CSRF-Token", tok)
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	status, body := do("POST", "/api/v1/me/devices", `{"name":"my phone"}`)
	if status != 201 || !strings.Contains(body, `"owner":"`+u.ID+`"`) || !strings.Contains(body, "PrivateKey = ") {
		t.Fatalf("self enrol: %d %s", status, body)
	}
	ds, _ := e.st.ListDevices(bg, u.ID, store.ListOptions{})
	if len(ds) != 1 || ds[0].MFATime.IsZero() {
		t.Fatalf("devices = %+v", ds)
	}
	if status, _ := do("POST", "/api/v1/me/devices/"+ds[0].ID+"/renew", ""); status != 200 {
		t.Errorf("renew: %d", status)
	}
	other := &store.Device{Owner: "u_other", PublicKey: "k-other", Name: "x"}
	e.st.CreateDevice(bg, other)
	if status, _ := do("POST", "/api/v1/me/devices/"+other.ID+"/renew", ""); status != 404 {
		t.Errorf("renewing someone else's device: %d", status)
	}
	// Without MFA in the session, no renewal.
	addUser(t, e.st, "w@example.com", "correct horse battery", domain.RoleViewer)
	b2 := newBrowser(t, hs)
	b2.login("w@example.com", "correct horse battery", "")
	tok2 := b2.csrf("/account")
	req, _ := http.NewRequest("POST", hs.URL+"/api/v1/me/devices/"+ds[0].ID+"/renew", nil)
	req.Header.Set("X-CSRF-Token", tok2)
	resp, _ := b2.c.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("renew without MFA: %d", resp.StatusCode)
	}
}

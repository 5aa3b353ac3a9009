package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
	"github.com/pquerna/otp/totp"
)

// mfaConsole is a console on loopback whose clock the test moves, so
// that TOTP codes and their time steps are the test's to choose.
type mfaConsole struct {
	t   *testing.T
	st  *store.DB
	srv *Server
	hs  *httptest.Server

	mu  sync.Mutex
	now time.Time
}

func newMFAConsole(t *testing.T, st *store.DB, key []byte) *mfaConsole {
	t.Helper()
	if st == nil {
		st = storetest.SQLite(t)
	}
	c := &mfaConsole{t: t, st: st, now: time.Unix(1_800_000_000, 0)}
	srv, err := New(st, &Options{Now: c.clock, SecretKey: key})
	if err != nil {
		t.Fatal(err)
	}
	c.srv = srv
	c.hs = httptest.NewServer(srv)
	t.Cleanup(func() { c.hs.Close(); srv.Close() })
	return c
}

func (c *mfaConsole) clock() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *mfaConsole) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// code is secret's TOTP code at the console's current time.
func (c *mfaConsole) code(secret string) string {
	c.t.Helper()
	code, err := totp.GenerateCode(secret, c.clock())
	if err != nil {
		c.t.Fatal(err)
	}
	return code
}

// api makes a JSON API request with b's session cookie and CSRF token,
// decoding a JSON answer into out when out is not nil.
func (b *browser) api(method, path string, body, out any) int {
	b.t.Helper()
	var csrf struct {
		CSRF string `json:"csrf"`
	}
	if method != "GET" {
		resp, err := b.c.Get(b.base + "/api/v1/me")
		if err != nil {
			b.t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&csrf)
		resp.Body.Close()
	}
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, b.base+path, rd)
	req.Header.Set("X-CSRF-Token", csrf.CSRF)
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			b.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

const mfaPassword = "correct horse battery"

// enrolTOTP creates a user and enrols an authenticator through the API,
// returning the user, the secret and the recovery codes; the console's
// clock then moves on one step, past the code that confirmed it.
func (c *mfaConsole) enrolTOTP(email string) (*store.User, string, []string) {
	c.t.Helper()
	u := addUser(c.t, c.st, email, mfaPassword, domain.RoleViewer)
	b := newBrowser(c.t, c.hs)
	if resp := b.login(email, mfaPassword, ""); resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("login before enrolment: %d", resp.StatusCode)
	}
	var ts totpStart
	if code := b.api("POST", "/api/v1/me/totp", reauthRequest{Password: mfaPassword}, &ts); code != 200 {
		c.t.Fatalf("start enrolment: %d", code)
	}
	var ra recoveryAnswer
	if code := b.api("POST", "/api/v1/me/totp/confirm", codeRequest{Code: c.code(ts.Secret)}, &ra); code != 200 || len(ra.RecoveryCodes) != 10 {
		c.t.Fatalf("confirm enrolment: %d, %d codes", code, len(ra.RecoveryCodes))
	}
	c.advance(domain.TOTPPeriod * time.Second)
	return u, ts.Secret, ra.RecoveryCodes
}

// loginMFA logs in with a code in a fresh browser and returns it and
// whether the login succeeded.
func (c *mfaConsole) loginMFA(email, password, code string) (*browser, bool) {
	b := newBrowser(c.t, c.hs)
	resp := b.login(email, password, code)
	return b, resp.StatusCode == http.StatusSeeOther
}

// TestTOTPCodeSingleUse replays a TOTP code within its window: the
// second login with it is refused, as is a login with the code that
// confirmed the enrolment, and the next step's code works.
func TestTOTPCodeSingleUse(t *testing.T) {
	c := newMFAConsole(t, nil, nil)

	// The code that confirmed the enrolment is used up.
	u := addUser(t, c.st, "enrol@example.com", mfaPassword, domain.RoleViewer)
	b := newBrowser(t, c.hs)
	b.login(u.Email, mfaPassword, "")
	var ts totpStart
	b.api("POST", "/api/v1/me/totp", reauthRequest{Password: mfaPassword}, &ts)
	confirm := c.code(ts.Secret)
	if code := b.api("POST", "/api/v1/me/totp/confirm", codeRequest{Code: confirm}, nil); code != 200 {
		t.Fatalf("confirm: %d", code)
	}
	if _, ok := c.loginMFA(u.Email, mfaPassword, confirm); ok {
		t.Error("the code that confirmed the enrolment logged in")
	}

	_, secret, _ := c.enrolTOTP("ada@example.com")
	code := c.code(secret)
	if _, ok := c.loginMFA("ada@example.com", mfaPassword, code); !ok {
		t.Fatal("first login with a fresh code refused")
	}
	// Still within the code's window (and within the skew after it).
	c.advance(10 * time.Second)
	if _, ok := c.loginMFA("ada@example.com", mfaPassword, code); ok {
		t.Error("a TOTP code was accepted twice")
	}
	c.advance(domain.TOTPPeriod * time.Second)
	if _, ok := c.loginMFA("ada@example.com", mfaPassword, code); ok {
		t.Error("a used code was accepted one step later, within the skew")
	}
	if _, ok := c.loginMFA("ada@example.com", mfaPassword, c.code(secret)); !ok {
		t.Error("the next step's code was refused")
	}
}

// TestTOTPConcurrentLogins logs in with one code from many clients at
// once: exactly one gets a session.
func TestTOTPConcurrentLogins(t *testing.T) {
	c := newMFAConsole(t, nil, nil)
	_, secret, _ := c.enrolTOTP("ada@example.com")
	got := raceLogins(c, "ada@example.com", c.code(secret), 8)
	if got != 1 {
		t.Errorf("%d of 8 concurrent logins with one TOTP code succeeded, want 1", got)
	}
}

// TestRecoveryCodeConcurrentUse uses one recovery code from many clients
// at once: exactly one gets a session, and the code is gone afterwards
// while the others still work.
func TestRecoveryCodeConcurrentUse(t *testing.T) {
	c := newMFAConsole(t, nil, nil)
	_, _, recovery := c.enrolTOTP("ada@example.com")
	if got := raceLogins(c, "ada@example.com", recovery[0], 8); got != 1 {
		t.Errorf("%d of 8 concurrent logins with one recovery code succeeded, want 1", got)
	}
	// Past the failed logins' lockout and throttle.
	c.advance(20 * time.Minute)
	if _, ok := c.loginMFA("ada@example.com", mfaPassword, strings.ToUpper(recovery[1])); !ok {
		t.Error("an unused recovery code was refused")
	}
	if _, ok := c.loginMFA("ada@example.com", mfaPassword, recovery[0]); ok {
		t.Error("a used recovery code logged in again")
	}
}

// raceLogins logs in n times at once with code and counts the sessions.
func raceLogins(c *mfaConsole, email, code string, n int) int {
	bs := make([]*browser, n)
	toks := make([]string, n)
	for i := range bs {
		bs[i] = newBrowser(c.t, c.hs)
		toks[i] = bs[i].csrf("/login")
	}
	var ok atomic.Int32
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Go(func() {
			<-start
			resp, err := b.c.PostForm(b.base+"/login", map[string][]string{"csrf": {toks[i]}, "email": {email}, "password": {mfaPassword}, "code": {code}})
			if err != nil {
				c.t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusSeeOther {
				ok.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	return int(ok.Load())
}

// TestMFAChangesNeedReauthentication tries to turn MFA off and to
// replace the authenticator with a session alone (refused, MFA stays
// on), then with the password and a current code (accepted).
func TestMFAChangesNeedReauthentication(t *testing.T) {
	c := newMFAConsole(t, nil, nil)
	_, secret, recovery := c.enrolTOTP("ada@example.com")
	b, ok := c.loginMFA("ada@example.com", mfaPassword, c.code(secret))
	if !ok {
		t.Fatal("login")
	}
	c.advance(domain.TOTPPeriod * time.Second)

	// The old attack: starting an enrolment switched the factor off.
	if code := b.api("POST", "/api/v1/me/totp", nil, nil); code != 403 {
		t.Errorf("reset with a session alone: %d, want 403", code)
	}
	for _, req := range []reauthRequest{{}, {Password: mfaPassword}, {Password: "wrong password!", Code: c.code(secret)}, {Code: c.code(secret)}} {
		if code := b.api("POST", "/api/v1/me/totp/disable", req, nil); code != 403 {
			t.Errorf("disable with %+v: %d, want 403", req, code)
		}
		if code := b.api("POST", "/api/v1/me/totp", req, nil); code != 403 {
			t.Errorf("reset with %+v: %d, want 403", req, code)
		}
	}
	var me meAnswer
	if b.api("GET", "/api/v1/me", nil, &me); !me.TOTP {
		t.Fatal("MFA was turned off by a session without re-authentication")
	}
	if _, ok := c.loginMFA("ada@example.com", mfaPassword, ""); ok {
		t.Fatal("login without a code after the refused changes")
	}

	// A reset with re-authentication keeps the old authenticator until
	// the new one is confirmed. (First wait out the throttle that the
	// refused attempts filled.)
	c.advance(2 * time.Minute)
	var ts totpStart
	if code := b.api("POST", "/api/v1/me/totp", reauthRequest{Password: mfaPassword, Code: c.code(secret)}, &ts); code != 200 || ts.Secret == "" || ts.Secret == secret {
		t.Fatalf("reset with password and code: %d", code)
	}
	c.advance(domain.TOTPPeriod * time.Second)
	if _, ok := c.loginMFA("ada@example.com", mfaPassword, c.code(secret)); !ok {
		t.Error("the old authenticator stopped working before the new one was confirmed")
	}
	c.advance(domain.TOTPPeriod * time.Second)

	// Disabling with password and a recovery code works.
	if code := b.api("POST", "/api/v1/me/totp/disable", reauthRequest{Password: mfaPassword, Code: recovery[0]}, nil); code != 204 {
		t.Fatalf("disable with password and recovery code: %d", code)
	}
	if b.api("GET", "/api/v1/me", nil, &me); me.TOTP {
		t.Error("MFA still on after disabling")
	}
	if _, ok := c.loginMFA("ada@example.com", mfaPassword, ""); !ok {
		t.Error("login without a code after disabling MFA")
	}
	if n := countAudit(t, c.st, "mfa.disable"); n != 1 {
		t.Errorf("%d mfa.disable audit entries", n)
	}
}

func countAudit(t *testing.T, st store.Store, action string) int {
	t.Helper()
	evs, err := st.ListAudit(bg, store.AuditFilter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// TestTOTPSecretSealedAtRest reads the users table as someone holding
// only the database would: no TOTP secret appears in it. A console with
// another key refuses to start, and one with the right key reads the
// secrets; a plaintext secret stored by an older console is sealed at
// start and keeps working.
func TestTOTPSecretSealedAtRest(t *testing.T) {
	st := storetest.SQLite(t)
	key := randomBytes(domain.SecretKeySize)
	c := newMFAConsole(t, st, key)
	// A secret stored in plaintext, as consoles before sealing did.
	legacySecret := "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	legacy := &store.User{Email: "old@example.com", Role: domain.RoleViewer, PasswordHash: domain.HashPassword(mfaPassword), TOTPSecret: legacySecret, TOTPEnabled: true}
	if err := st.CreateUser(bg, legacy); err != nil {
		t.Fatal(err)
	}
	_, secret, _ := c.enrolTOTP("ada@example.com")
	b := newBrowser(t, c.hs)
	b.login("ada@example.com", mfaPassword, c.code(secret))
	var pending totpStart
	c.advance(domain.TOTPPeriod * time.Second)
	if code := b.api("POST", "/api/v1/me/totp", reauthRequest{Password: mfaPassword, Code: c.code(secret)}, &pending); code != 200 {
		t.Fatalf("start a second enrolment: %d", code)
	}

	dump := func() string {
		rows, err := st.SQL().Query(`SELECT totp_secret, totp_pending FROM users`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var all strings.Builder
		for rows.Next() {
			var s, p string
			rows.Scan(&s, &p)
			for _, v := range []string{s, p} {
				if v != "" && !domain.IsSealed(v) {
					t.Errorf("unsealed value in the users table: %q", v)
				}
			}
			all.WriteString(s + " " + p + "\n")
		}
		return all.String()
	}
	// The running console (with the key) sealed nothing of old@ yet:
	// it was created after start. A restart with the key seals it.
	c2 := newMFAConsole(t, st, key)
	c2.now = c.clock().Add(domain.TOTPPeriod * time.Second)
	rows := dump()
	for _, s := range []string{secret, pending.Secret, legacySecret} {
		if strings.Contains(rows, s) || strings.Contains(strings.ToLower(rows), strings.ToLower(s)) {
			t.Errorf("the users table holds a TOTP secret in the clear:\n%s", rows)
		}
	}
	if _, ok := c2.loginMFA("ada@example.com", mfaPassword, c2.code(secret)); !ok {
		t.Error("a console restarted with the same key could not check a code")
	}
	if _, ok := c2.loginMFA("old@example.com", mfaPassword, c2.code(legacySecret)); !ok {
		t.Error("a secret stored in plaintext before sealing stopped working")
	}

	// The wrong key is a clear error at start, not plaintext and not a
	// locked-out user at login.
	if _, err := New(st, &Options{SecretKey: randomBytes(domain.SecretKeySize)}); err == nil || !strings.Contains(err.Error(), "sealed with key") {
		t.Errorf("start with another key: %v", err)
	}
	// A sealed secret moved into another user's row does not open.
	var adaSecret string
	st.SQL().QueryRow(`SELECT totp_secret FROM users WHERE email = 'ada@example.com'`).Scan(&adaSecret)
	st.SQL().Exec(`UPDATE users SET totp_secret = ? WHERE email = 'old@example.com'`, adaSecret)
	c2.advance(domain.TOTPPeriod * time.Second)
	if _, ok := c2.loginMFA("old@example.com", mfaPassword, c2.code(secret)); ok {
		t.Error("a sealed secret copied to another user logged that user in")
	}
}

// TestSelfServicePasswordChange changes a password through the API with
// a wrong and then the right current password: the wrong one changes
// nothing; the right one ends the user's other sessions (not the one that
// asked) and the old password stops working. The page form does the same.
func TestSelfServicePasswordChange(t *testing.T) {
	c := newMFAConsole(t, nil, nil)
	addUser(t, c.st, "ada@example.com", mfaPassword, domain.RoleViewer)
	b1, _ := c.loginMFA("ada@example.com", mfaPassword, "")
	b2, ok := c.loginMFA("ada@example.com", mfaPassword, "")
	if !ok {
		t.Fatal("login")
	}
	const next = "a much better passphrase"
	if code := b1.api("POST", "/api/v1/me/password", passwordChange{CurrentPassword: "wrong password!", NewPassword: next}, nil); code != 403 {
		t.Errorf("change with a wrong current password: %d, want 403", code)
	}
	if code := b1.api("POST", "/api/v1/me/password", passwordChange{CurrentPassword: mfaPassword, NewPassword: "short"}, nil); code != 400 {
		t.Errorf("change to a short password: %d, want 400", code)
	}
	if code := b2.api("GET", "/api/v1/me", nil, nil); code != 200 {
		t.Fatalf("refused changes ended a session: %d", code)
	}
	if code := b1.api("POST", "/api/v1/me/password", passwordChange{CurrentPassword: mfaPassword, NewPassword: next}, nil); code != 204 {
		t.Fatalf("change with the right current password: %d", code)
	}
	if code := b2.api("GET", "/api/v1/me", nil, nil); code != 401 {
		t.Errorf("another session after the change: %d, want 401", code)
	}
	if code := b1.api("GET", "/api/v1/me", nil, nil); code != 200 {
		t.Errorf("the session that changed the password: %d, want 200", code)
	}
	if _, ok := c.loginMFA("ada@example.com", mfaPassword, ""); ok {
		t.Error("the old password still logs in")
	}
	b3, ok := c.loginMFA("ada@example.com", next, "")
	if !ok {
		t.Fatal("the new password does not log in")
	}
	if n := countAudit(t, c.st, "password.change"); n != 1 {
		t.Errorf("%d password.change audit entries, want 1", n)
	}

	// The page form.
	tok := b3.csrf("/account")
	if resp, _ := b3.post("/account/password", map[string][]string{"csrf": {tok}, "current_password": {"nope nope nope"}, "new_password": {"third passphrase here"}}); b3.flashOf(resp).kind != flashError {
		t.Errorf("page change with a wrong password: %+v", b3.flashOf(resp))
	}
	if resp, _ := b3.post("/account/password", map[string][]string{"csrf": {tok}, "current_password": {next}, "new_password": {"third passphrase here"}}); b3.flashOf(resp).kind != flashInfo {
		t.Errorf("page change: %+v", b3.flashOf(resp))
	}
	if code := b1.api("GET", "/api/v1/me", nil, nil); code != 401 {
		t.Errorf("an older session after the page change: %d, want 401", code)
	}
	if _, ok := c.loginMFA("ada@example.com", "third passphrase here", ""); !ok {
		t.Error("the password set by the page does not log in")
	}
}

// TestCredentialRoutesAreSelfService pins the permission of the
// credential routes in the authorisation table (TestAuthorizationTable
// calls each as every role): any signed-in user, no more.
func TestCredentialRoutesAreSelfService(t *testing.T) {
	e := newEnv(t, nil)
	want := map[string]bool{
		"POST /api/v1/me/totp": true, "POST /api/v1/me/totp/confirm": true, "POST /api/v1/me/totp/disable": true,
		"POST /api/v1/me/password": true, "POST /account/totp": true, "POST /account/totp/confirm": true,
		"POST /account/totp/disable": true, "POST /account/password": true,
	}
	for _, rt := range e.srv.routes() {
		k := rt.method + " " + rt.path
		if want[k] {
			if rt.perm != permSelf {
				t.Errorf("%s has permission %s, want %s", k, rt.perm, permSelf)
			}
			delete(want, k)
		}
	}
	for k := range want {
		t.Errorf("no route %s", k)
	}
	// An API key has no password or authenticator of its own.
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/me/password", passwordChange{CurrentPassword: "x", NewPassword: "yyyyyyyyyyyyyy"}, 400, nil)
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/me/totp/disable", reauthRequest{}, 400, nil)
}

// TestFirstTOTPEnrolmentNeedsPassword: a stolen session must not add an
// authenticator of its own to an account that has none, which would lock
// the owner out of their next sign-in.
func TestFirstTOTPEnrolmentNeedsPassword(t *testing.T) {
	c := newMFAConsole(t, nil, nil)
	u := addUser(t, c.st, "first@example.com", mfaPassword, domain.RoleViewer)
	b := newBrowser(t, c.hs)
	if resp := b.login(u.Email, mfaPassword, ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	for _, req := range []any{nil, reauthRequest{}, reauthRequest{Password: "wrong password!"}} {
		if code := b.api("POST", "/api/v1/me/totp", req, nil); code != 403 {
			t.Errorf("first enrolment with %+v: %d, want 403", req, code)
		}
	}
	if pending, _ := c.st.TOTPPending(bg, u.ID); pending != "" {
		t.Error("a refused enrolment left a pending secret")
	}
	var ts totpStart
	if code := b.api("POST", "/api/v1/me/totp", reauthRequest{Password: mfaPassword}, &ts); code != 200 || ts.Secret == "" {
		t.Fatalf("first enrolment with the password: %d", code)
	}
}

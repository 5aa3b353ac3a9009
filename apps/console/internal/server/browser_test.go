package server

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/ztna"
	"github.com/gonaut/gonaut/ztna/controlplane"
	"github.com/pquerna/otp/totp"
)

const chromium = "/usr/bin/chromium"

// TestBrowser drives Debian's chromium through the console: log in with
// TOTP, write a policy with a typo and see the diagnostic at line:col,
// fix it, run its tests, simulate, save and see the new version reach a
// real gateway managed by the console (its bundle version on the gateways
// page), disable a device on the devices page and see the gateway cut its
// live flow within 2 s, watch a live decision arrive on
// the dashboard without a reload, verify the audit chain, and toggle the
// theme. A screenshot of every page goes to the test's artifact directory
// (go test -artifacts keeps them).
func TestBrowser(t *testing.T) {
	if _, err := exec.LookPath(chromium); err != nil {
		t.Skipf("%s not installed (apt-get install -y --no-install-recommends chromium)", chromium)
	}
	if testing.Short() {
		t.Skip("browser test")
	}
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	t.Cleanup(hs.Close) // after the gateway below stopped its long poll
	key, _ := totp.Generate(totp.GenerateOpts{Issuer: "Gonaut", AccountName: "ada@example.com"})
	u := &store.User{Email: "ada@example.com", Name: "Ada", Role: domain.RoleAdmin, PasswordHash: domain.HashPassword("correct horse battery"), TOTPSecret: key.Secret(), TOTPEnabled: true}
	if err := e.st.CreateUser(bg, u); err != nil {
		t.Fatal(err)
	}
	shots := t.ArtifactDir()

	opts := append([]chromedp.ExecAllocatorOption{},
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer acancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, tcancel := context.WithTimeout(ctx, 90*time.Second)
	defer tcancel()

	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644)
	}
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			if buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
				os.WriteFile(filepath.Join(shots, "failed-"+strings.ReplaceAll(step, " ", "-")+".png"), buf, 0o644)
			}
			t.Fatalf("%s: %v", step, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	// Typing is Focus then KeyEvent, not chromedp.SendKeys: SendKeys reads
	// the node's attributes without chromedp's lock, racing with its own
	// DOM event handler while htmx changes attributes (chromedp v0.23.0).
	code, _ := totp.GenerateCode(key.Secret(), time.Now())
	do("open login", chromedp.Navigate(hs.URL+"/"), chromedp.WaitVisible(css("#login-form")))
	shot("login")
	do("log in",
		chromedp.Focus(css("#email"), chromedp.NodeVisible), chromedp.KeyEvent("ada@example.com"),
		chromedp.Focus(css("#password"), chromedp.NodeVisible), chromedp.KeyEvent("correct horse battery"),
		chromedp.Focus(css("#code"), chromedp.NodeVisible), chromedp.KeyEvent(code),
		chromedp.Click(css("#login-submit")),
		chromedp.WaitVisible(css("#feed")),
	)

	// A real gateway managed by this console, and a device of bob's
	// enrolled here with a live flow through it.
	var real gatewayCreated
	e.mustCall(domain.RoleOperator, "POST", "/api/v1/gateways", gatewayRequest{Name: "edge-real"}, 201, &real)
	m := startManagedGateway(t, hs.URL, real.Token, []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{loopbackServer(t, nil)}}})
	setWireGuard(t, e.st, m.g)
	var bob store.User
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/users", userRequest{Email: "bob@example.com", Role: domain.RoleViewer, Groups: []string{"eng"}, Password: "correct horse battery"}, 201, &bob)
	e.mustCall(domain.RolePolicyEditor, "PUT", "/api/v1/policies/echo", draft{Source: e2ePolicy}, 200, nil)
	var en Enrolment
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "bob-laptop", Owner: bob.ID}, 201, &en)
	ver, _ := e.st.ConfigVersion(bg)
	m.waitVersion(t, ver, 5*time.Second)
	live, err := wgClient(t, en.Config).Dial(ctx, "tcp", "echo.corp:7")
	if err != nil {
		t.Fatalf("bob's device through the console's gateway: %v", err)
	}
	defer live.Close()
	echo(t, live, "before the policy is saved")

	typo := strings.Replace(goodPolicy, `"eng" in subject.groups`, `"eng" in subject.grups`, 1)
	do("typo shows a diagnostic",
		chromedp.Navigate(hs.URL+"/policies/new"),
		chromedp.WaitVisible(css("#policy-source")),
		chromedp.SetValue(css("#policy-name"), "wiki"),
		chromedp.SetValue(css("#policy-source"), typo),
		chromedp.Focus(css("#policy-source"), chromedp.NodeVisible), chromedp.KeyEvent(" "), // a real input event
		chromedp.WaitVisible(css("#diagnostics li.diag")),
	)
	shot("policy-typo")
	if diag := text("#diagnostics"); !strings.Contains(diag, "6:") || !strings.Contains(diag, "grups") {
		t.Errorf("diagnostic = %q, want line 6 and the misspelt field", diag)
	}

	do("fix and run tests",
		chromedp.SetValue(css("#policy-source"), goodPolicy),
		chromedp.Click(css("#run-tests")),
		chromedp.WaitVisible(css("#test-results li.pass")),
	)
	if tests := text("#diagnostics"); !strings.Contains(tests, "all tests pass") || !strings.Contains(tests, "engineer") {
		t.Errorf("test panel = %q", tests)
	}
	do("simulate", chromedp.Click(css("#simulate")), chromedp.WaitVisible(css("#simulation-result")))
	shot("policy-fixed")
	if sim := text("#simulation-result"); !strings.Contains(sim, "replayed:") {
		t.Errorf("simulation panel = %q", sim)
	}

	saved := time.Now()
	do("save",
		chromedp.Focus(css("#policy-message"), chromedp.NodeVisible), chromedp.KeyEvent("first version"),
		chromedp.Click(css("#save")),
		chromedp.WaitVisible(css(".toast")),
	)
	if flash := text(".toast"); !strings.Contains(flash, "Saved version 1 of wiki") {
		t.Errorf("after save: %q", flash)
	}
	if p, err := e.st.Policy(bg, "wiki"); err != nil || p.Author != "ada@example.com" {
		t.Errorf("saved policy = %+v, %v", p, err)
	}

	// The new version reaches the running gateway, and its status on the
	// gateways page (and in the API) says so.
	ver, _ = e.st.ConfigVersion(bg)
	m.waitVersion(t, ver, 2*time.Second)
	t.Logf("policy version %d enforced by the gateway %v after the save click", ver, time.Since(saved))
	want := strconv.FormatInt(ver, 10)
	rowVersion := `(() => { for (const tr of document.querySelectorAll('tbody tr')) { const td = tr.querySelectorAll('td'); if (td.length > 3 && td[0].innerText.trim() == 'edge-real') return td[3].innerText.trim(); } return ''; })()`
	deadline := time.Now().Add(5 * time.Second)
	for shown := ""; shown != want; {
		do("gateways page", chromedp.Navigate(hs.URL+"/gateways"), chromedp.WaitVisible(css("main h1")))
		shown, err = chromedp.Run(ctx, chromedp.Evaluate[string](rowVersion))
		if err != nil || (shown != want && time.Now().After(deadline)) {
			shot("failed-gateway-version")
			t.Fatalf("gateways page shows edge-real at bundle %q (%v), want %s", shown, err, want)
		}
		if shown != want {
			time.Sleep(100 * time.Millisecond)
		}
	}
	shot("gateways-version")
	var gws page[store.Gateway]
	e.mustCall(domain.RoleViewer, "GET", "/api/v1/gateways", nil, 200, &gws)
	for _, g := range gws.Items {
		if g.ID == real.Gateway.ID && g.BundleVersion != ver {
			t.Errorf("API: edge-real at bundle %d, want %d", g.BundleVersion, ver)
		}
	}
	echo(t, live, "after the policy is saved")

	// Revocation in the browser: disabling bob's device on the devices
	// page cuts the live flow within 2 s.
	do("devices page", chromedp.Navigate(hs.URL+"/devices"), chromedp.WaitVisible(css(`button[aria-label="disable `+en.Device.ID+`"]`)))
	start := time.Now()
	do("disable device", chromedp.Click(css(`button[aria-label="disable `+en.Device.ID+`"]`)))
	cut := waitCut(t, live, 2*time.Second)
	t.Logf("device disabled in the browser: live flow cut %v after the click (%v in all)", cut, time.Since(start))
	// The click's form post redirects back to the devices page with a
	// toast; navigating again before that load ends would abort it.
	do("devices page after", chromedp.WaitVisible(css(".toast")))
	if flash := text(".toast"); !strings.Contains(flash, "disabled") {
		t.Errorf("after disabling: toast %q", flash)
	}
	shot("device-disabled")
	if d, err := e.st.Device(bg, en.Device.ID); err != nil || !d.Disabled {
		t.Errorf("device after the click: %+v, %v", d, err)
	}

	// A gateway registers and pushes a decision; the dashboard shows it
	// without a reload.
	var gw gatewayCreated
	e.mustCall(domain.RoleOperator, "POST", "/api/v1/gateways", gatewayRequest{Name: "edge-1"}, 201, &gw)
	cl, err := controlplane.New(hs.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.Register(ctx, gw.Token, "edge-1"); err != nil {
		t.Fatal(err)
	}
	// The dashboard's live stream must be subscribed before the event is
	// pushed, or the event passes before the page listens: wait for the
	// earlier pages' streams to end, then for the dashboard's to begin,
	// rather than guess a delay (under load, a fixed one was too short).
	liveSubscribers := func() int {
		e.srv.hub.mu.Lock()
		defer e.srv.hub.mu.Unlock()
		return len(e.srv.hub.subs)
	}
	waitSubscribers := func(ok func(int) bool, what string) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !ok(liveSubscribers()); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d live subscribers", what, liveSubscribers())
			}
		}
	}
	waitSubscribers(func(n int) bool { return n == 0 }, "earlier pages' live streams still open")
	do("dashboard", chromedp.Navigate(hs.URL+"/"), chromedp.WaitVisible(css("#feed")))
	waitSubscribers(func(n int) bool { return n >= 1 }, "the dashboard did not subscribe to live events")
	// The subject is a user of the gateway's bundle: the console refuses
	// events about anyone else.
	if err := cl.Emit(controlplane.Event{Kind: "decision", Subject: bob.ID, Resource: "live-check", Effect: "deny"}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('#feed').innerText.includes('live-check')`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		shot("failed-live")
		t.Fatalf("live decision did not appear: %v", err)
	}
	shot("dashboard-live")

	do("audit", chromedp.Navigate(hs.URL+"/audit"), chromedp.WaitVisible(css("#verify")),
		chromedp.Click(css("#verify")), chromedp.WaitVisible(css("#verify-result")))
	shot("audit")
	if verify := text("#verify-result"); !strings.Contains(verify, "Chain intact") {
		t.Errorf("verify = %q", verify)
	}

	for _, p := range []string{"policies", "policies/wiki/history", "templates", "resources", "gateways", "devices", "users", "alerts", "account"} {
		do("page "+p, chromedp.Navigate(hs.URL+"/"+p), chromedp.WaitVisible(css("main h1")))
		shot(strings.ReplaceAll(p, "/", "-"))
	}

	bgColor := `getComputedStyle(document.body).backgroundColor`
	before, err1 := chromedp.Run(ctx, chromedp.Evaluate[string](bgColor))
	do("theme", chromedp.Click(css("#theme-toggle")))
	after, err2 := chromedp.Run(ctx, chromedp.Evaluate[string](bgColor))
	shot("theme-toggled")
	if err1 != nil || err2 != nil || before == after {
		t.Errorf("theme toggle: background %q -> %q (%v, %v)", before, after, err1, err2)
	}
	t.Logf("screenshots in %s", shots)
}

package server

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/pquerna/otp/totp"
)

// axe-core, vendored with its licence (testdata/axe/README.md).
//
//go:embed testdata/axe/axe.min.js
var axeSource string

// axeRun runs axe-core in the page against WCAG 2.1 A and AA, plus the
// rules that check heading order, a skip link, a main landmark and a
// level-one heading, and answers the violations as JSON.
const axeRun = `(async () => {
  const r = await axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    rules: {"heading-order": {enabled: true}, "skip-link": {enabled: true}, "landmark-one-main": {enabled: true},
            "page-has-heading-one": {enabled: true}, "empty-heading": {enabled: true}, "empty-table-header": {enabled: true}},
    resultTypes: ["violations"],
  });
  return JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + ": " + n.failureSummary.replace(/\s+/g, " "))})));
})()`

// ownChecks repeats the checks the console promises in plain DOM code, so
// that they do not rest on one engine: every form control has a label,
// every chart and image a text alternative, every button a name, the
// document a language, and headings do not skip levels.
const ownChecks = `(() => {
  const bad = [];
  const name = el => (el.getAttribute("aria-label") || "").trim() ||
    (el.getAttribute("aria-labelledby") || "").split(/\s+/).map(id => document.getElementById(id)?.textContent || "").join("").trim() ||
    (el.labels ? Array.from(el.labels).map(l => l.textContent).join("").trim() : "") || (el.getAttribute("title") || "").trim();
  if (!document.documentElement.lang) bad.push("html has no lang");
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea"))
    if (!name(el)) bad.push("unlabelled " + el.tagName.toLowerCase() + "#" + el.id + "[name=" + el.name + "]");
  for (const el of document.querySelectorAll("svg[role=img], img"))
    if (!(el.getAttribute("alt") || "").trim() && !name(el) && !el.querySelector("title")) bad.push("image without text: " + el.outerHTML.slice(0, 80));
  for (const el of document.querySelectorAll("svg:not([role])"))
    if (!el.closest("[aria-hidden=true]")) bad.push("svg without role=img or aria-hidden: " + el.outerHTML.slice(0, 80));
  for (const el of document.querySelectorAll("button, [role=button]"))
    if (!el.textContent.trim() && !name(el)) bad.push("button without a name: " + el.outerHTML.slice(0, 80));
  let last = 0;
  for (const h of document.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
    const n = +h.tagName[1];
    if (n > last + 1) bad.push("heading " + h.tagName + " '" + h.textContent.trim().slice(0, 30) + "' after h" + last);
    last = n;
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1)
    bad.push("page scrolls sideways: " + document.documentElement.scrollWidth + "px wide in a " + window.innerWidth + "px window");
  return JSON.stringify(bad);
})()`

// phoneWidth is the emulated phone's screen width in CSS pixels.
const phoneWidth = 390

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// TestAccessibility visits every page of the console in chromium, in the
// light and the dark theme, on a desktop and on a phone-sized screen, and
// fails on any WCAG 2.1 A/AA violation axe-core finds (labels, names,
// text alternatives, contrast of visible text at 4.5:1, ...) and on any
// failure of the console's own checks (ownChecks). It also checks that
// the keyboard reaches the skip link first and that focus is visible, and
// that the checks catch a planted violation. Screenshots of every page on
// the phone go to the test's artifact directory.
func TestAccessibility(t *testing.T) {
	if _, err := exec.LookPath(chromium); err != nil {
		t.Skipf("%s not installed (apt-get install -y --no-install-recommends chromium)", chromium)
	}
	if testing.Short() {
		t.Skip("browser test")
	}
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	key, _ := totp.Generate(totp.GenerateOpts{Issuer: "Gonaut", AccountName: "ada@example.com"})
	ada := &store.User{Email: "ada@example.com", Name: "Ada", Role: domain.RoleAdmin, Groups: []string{"eng"}, PasswordHash: domain.HashPassword("correct horse battery"), TOTPSecret: key.Secret(), TOTPEnabled: true}
	if err := e.st.CreateUser(bg, ada); err != nil {
		t.Fatal(err)
	}
	alertID := seedPages(t, e)
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
	ctx, tcancel := context.WithTimeout(ctx, 3*time.Minute)
	defer tcancel()

	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644)
	}
	// check runs axe and the own checks on the page as it is.
	check := func(where string) {
		t.Helper()
		if loaded, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof axe !== "undefined"`)); !loaded {
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](axeSource+";true")); err != nil {
				t.Fatalf("%s: loading axe: %v", where, err)
			}
		}
		out, err := chromedp.Run(ctx, chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: axe: %v", where, err)
		}
		var vs []axeViolation
		if err := json.Unmarshal([]byte(out), &vs); err != nil {
			t.Fatalf("%s: axe answered %q: %v", where, out, err)
		}
		for _, v := range vs {
			t.Errorf("%s: %s (%s): %s\n\t%s", where, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n\t"))
		}
		out, err = chromedp.Run(ctx, chromedp.Evaluate[string](ownChecks))
		if err != nil {
			t.Fatalf("%s: own checks: %v", where, err)
		}
		var bad []string
		json.Unmarshal([]byte(out), &bad)
		for _, b := range bad {
			t.Errorf("%s: %s", where, b)
		}
	}
	theme := func(name string) chromedp.Action[chromedp.Void] {
		return script(fmt.Sprintf(`document.documentElement.setAttribute("data-theme", %q)`, name))
	}

	do("open login", chromedp.Navigate(hs.URL+"/login"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	check("login light")
	do("dark", theme("dark"))
	check("login dark")

	// The keyboard: the first Tab lands on the skip link, which shows a
	// focus outline and moves focus to the main content.
	do("tab", chromedp.KeyEvent("\t"))
	if cls, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.className`)); cls != "skip" {
		t.Errorf("first Tab focuses %q, want the skip link", cls)
	}
	if o, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.activeElement).outlineStyle`)); o == "none" || o == "" {
		t.Errorf("focused skip link has no outline (%q)", o)
	}
	do("skip", chromedp.KeyEvent("\r"))
	if id, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`)); id != "main" {
		t.Errorf("after the skip link, focus is on %q, want main", id)
	}

	code, _ := totp.GenerateCode(key.Secret(), time.Now())
	do("log in",
		chromedp.Navigate(hs.URL+"/login"), chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.Focus(chromedp.CSS("#email"), chromedp.NodeVisible), chromedp.KeyEvent("ada@example.com"),
		chromedp.Focus(chromedp.CSS("#password"), chromedp.NodeVisible), chromedp.KeyEvent("correct horse battery"),
		chromedp.Focus(chromedp.CSS("#code"), chromedp.NodeVisible), chromedp.KeyEvent(code),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#feed")),
	)

	pages := []string{"/", "/policies", "/policies/new", "/policies/wiki", "/policies/wiki/history", "/templates",
		"/resources", "/gateways", "/devices", "/attachments", "/users", "/groups", "/analytics",
		"/alerts", "/alerts/" + alertID, "/audit", "/account", "/alerts/a_missing", "/apikeys", "/settings/wireguard",
		"/settings", "/platform", "/account/reauth", "/identity-providers"}
	for _, p := range pages {
		for _, th := range []string{"light", "dark"} {
			do("page "+p, chromedp.Navigate(hs.URL+p), chromedp.WaitVisible(chromedp.CSS("main h1")), theme(th))
			check(p + " " + th)
		}
	}
	// The toasts, as a real action leaves them (they come in a one-time
	// cookie): a group created and a name refused.
	for _, th := range []string{"light", "dark"} {
		for _, name := range []string{"a11y-" + th, "not a name!"} {
			do("toast after creating "+name, chromedp.Navigate(hs.URL+"/groups"), chromedp.WaitVisible(chromedp.CSS("#group-form")),
				script(fmt.Sprintf(`document.getElementById("group-name").value = %q; document.getElementById("group-form").submit()`, name)),
				chromedp.WaitVisible(chromedp.CSS(".toast")), theme(th))
			check("/groups toast for " + name + " " + th)
		}
	}

	// Loading and error states of real htmx requests: the asking element
	// is busy while a request runs (a MutationObserver records it, since
	// a request on loopback is too quick to catch), and a request that
	// fails becomes an announced error toast, which meets contrast in
	// both themes.
	// The button is clicked once htmx has started on the page (its
	// script is deferred): a click before that sends nothing, which on a
	// loaded machine is what the visible editor alone did not rule out.
	do("editor", chromedp.Navigate(hs.URL+"/policies/new"), chromedp.WaitVisible(chromedp.CSS("#policy-source")), theme("light"))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.readyState === "complete" && typeof htmx !== "undefined"`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("htmx did not start on the editor: %v", err)
	}
	do("run tests", script(`window.sawBusy = false; new MutationObserver(ms => { for (const m of ms) if (m.target.getAttribute("aria-busy") === "true") window.sawBusy = true; })
			.observe(document.body, {attributes: true, subtree: true, attributeFilter: ["aria-busy"]})`),
	)
	// A click that htmx has not yet bound sends nothing on a loaded
	// machine; it is clicked again until one request has run.
	var busyErr error
	for range 3 {
		do("click run tests", chromedp.Click(chromedp.CSS("#run-tests")))
		if _, busyErr = chromedp.Run(ctx, chromedp.Poll[bool](`window.sawBusy && !document.querySelector("[aria-busy=true]") && document.getElementById("loading").hidden`, chromedp.WithPollingTimeout(10*time.Second))); busyErr == nil {
			break
		}
	}
	if busyErr != nil {
		t.Errorf("a request did not mark its element busy and then clear it: %v", busyErr)
	}
	// A request to a route that is not there answers 404.
	do("failing request", script(`const b = document.getElementById("run-tests"); b.setAttribute("hx-post", "/ui/policies/missing"); htmx.process(b)`),
		chromedp.Click(chromedp.CSS("#run-tests")))
	toast, err := chromedp.Run(ctx, chromedp.Poll[string](`(document.querySelector("#toasts [role=alert]") || {}).textContent`, chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil || !strings.Contains(toast, "HTTP 404") {
		t.Errorf("after a failed request the toast says %q (%v)", toast, err)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#toasts [role=alert]").length`)); n != 1 {
		t.Errorf("one failed request raised %d toasts", n)
	}
	check("error toast light")
	do("dark", theme("dark"))
	check("error toast dark")

	// A phone: every page lays out without sideways scrolling (ownChecks)
	// and passes the same rules; the screenshots show how it looks.
	do("phone", chromedp.EmulateViewport(phoneWidth, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)))
	for _, p := range pages[:len(pages)-2] {
		do("phone "+p, chromedp.Navigate(hs.URL+p), chromedp.WaitVisible(chromedp.CSS("main h1")), theme("light"))
		check("phone " + p)
		// A phone widens its layout viewport to fit wide content, which
		// hides sideways scrolling from innerWidth: compare with the
		// emulated screen.
		if w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); err != nil || w > phoneWidth {
			wide, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`Array.from(document.querySelectorAll("body *")).filter(e => e.getBoundingClientRect().right > %d && !(e.parentElement && e.parentElement.closest(".scroll"))).filter(e => !Array.from(e.children).some(c => c.getBoundingClientRect().right > %d && !(c.parentElement && c.parentElement.closest(".scroll")))).slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + "." + e.className + " " + Math.round(e.getBoundingClientRect().right) + "px").join(", ")`, phoneWidth, phoneWidth)))
			t.Errorf("phone %s: page is %dpx wide on a %dpx screen (%v); widest: %s", p, w, phoneWidth, err, wide)
		}
		name := strings.Trim(strings.ReplaceAll(p, "/", "-"), "-")
		if name == "" {
			name = "dashboard"
		}
		if strings.HasPrefix(p, "/alerts/") {
			name = "alert-detail"
		}
		shot("phone-" + name)
	}
	// A common laptop: the widest tables show every column without
	// scrolling their region sideways.
	do("laptop", chromedp.EmulateReset(), chromedp.EmulateViewport(1366, 768))
	for _, p := range []string{"/devices", "/audit", "/users"} {
		do("laptop "+p, chromedp.Navigate(hs.URL+p), chromedp.WaitVisible(chromedp.CSS("main h1")))
		clipped, err := chromedp.Run(ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll(".scroll")).filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.scrollWidth + "px in " + e.clientWidth + "px").join(", ")`))
		if err != nil || clipped != "" {
			t.Errorf("laptop %s: a table is wider than its region (%s) %v", p, clipped, err)
		}
	}
	do("desktop", chromedp.EmulateReset(), chromedp.EmulateViewport(1280, 900))
	for _, p := range []string{"/analytics", "/alerts/" + alertID, "/groups", "/attachments"} {
		do("page "+p, chromedp.Navigate(hs.URL+p), chromedp.WaitVisible(chromedp.CSS("main h1")), theme("light"))
		name := strings.Trim(strings.ReplaceAll(p, "/", "-"), "-")
		if strings.HasPrefix(p, "/alerts/") {
			name = "alert-detail"
		}
		shot(name)
	}

	// The checks must catch a real violation: plant an unlabelled input
	// and grey-on-white text and expect both engines to object.
	do("plant", chromedp.Navigate(hs.URL+"/groups"), chromedp.WaitVisible(chromedp.CSS("main h1")), theme("light"),
		// The console's CSP refuses inline style attributes; the CSSOM is
		// allowed.
		script(`document.querySelector("main").insertAdjacentHTML("beforeend",
			'<section class="card"><input id="planted"><p id="planted-p">faint text</p><h6>skipped level</h6></section>');
			document.getElementById("planted-p").style.color = "#aaa"`))
	if loaded, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof axe !== "undefined"`)); !loaded {
		chromedp.Run(ctx, chromedp.Evaluate[any](axeSource+";true"))
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"label"`, `"color-contrast"`, `"heading-order"`} {
		if !strings.Contains(out, want) {
			t.Errorf("axe missed the planted %s violation: %s", want, out)
		}
	}
	own, _ := chromedp.Run(ctx, chromedp.Evaluate[string](ownChecks))
	if !strings.Contains(own, "unlabelled input#planted") || !strings.Contains(own, "heading H6") {
		t.Errorf("own checks missed the planted violations: %s", own)
	}
	t.Logf("screenshots in %s", shots)
}

// script is an action that evaluates js and ignores its value.
func script(js string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[any](js)(ctx, t)
		return chromedp.Void{}, err
	}
}

// seedPages fills the store so that every page has content to check, and
// returns the id of an alert with evidence.
func seedPages(t *testing.T, e *env) string {
	t.Helper()
	if _, err := e.st.SavePolicy(bg, "wiki", goodPolicy, "ada@example.com", "first"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.SavePolicy(bg, "wiki", strings.Replace(goodPolicy, "engineers", "engineers only", 1), "ada@example.com", "second"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []store.Resource{{Name: "wiki", Kind: "http", Address: "10.0.0.5", Port: 80, Labels: map[string]string{"env": "prod"}},
		{Name: "yubikey", Kind: "usb", Address: "1-1"}, {Name: "console-port", Kind: "serial", Address: "/dev/ttyUSB0"}} {
		if err := e.st.PutResource(bg, &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.st.PutGroup(bg, store.Group{Name: "eng", Description: "engineering"}); err != nil {
		t.Fatal(err)
	}
	bob := &store.User{Email: "bob@example.com", Name: "Bob", Role: domain.RoleOperator, Groups: []string{"eng", "oncall"}, PasswordHash: "x"}
	if err := e.st.CreateUser(bg, bob); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateDevice(bg, &store.Device{Name: "laptop", Owner: bob.ID, PublicKey: "k1T7Vv3QyU1iAV9HC2Zr9w3lX6mJYkXm8fZq3H5oXk0=", Address: "100.64.0.2/32"}); err != nil {
		t.Fatal(err)
	}
	g := &store.Gateway{Name: "edge-1", TokenHash: "t", TokenExpires: time.Now().Add(time.Hour)}
	if err := e.st.CreateGateway(bg, g); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var evs []store.AuditEvent
	for i := range 40 {
		effect := "allow"
		if i%4 == 0 {
			effect = "deny"
		}
		evs = append(evs, decision(now.Add(-time.Duration(40-i)*time.Minute), []string{"ada@example.com", "bob@example.com"}[i%2], "wiki", effect, g.ID, "laptop"))
	}
	evs = append(evs, decision(now.Add(-time.Minute), "bob@example.com", "yubikey", "allow", g.ID, "laptop"))
	if _, _, err := e.st.AppendAudit(bg, evs); err != nil {
		t.Fatal(err)
	}
	var id string
	for i, a := range []store.Alert{
		{Time: now.Add(-10 * time.Minute), Severity: "high", Kind: "impossible_travel", Subject: "bob@example.com", Message: "Paris then Sydney within 40 minutes", Evidence: json.RawMessage(`{"km":16960,"minutes":40,"from":"FR","to":"AU"}`)},
		{Time: now.Add(-3 * time.Hour), Severity: "medium", Kind: "new_device", Subject: "ada@example.com", Message: "a device never seen", Evidence: json.RawMessage(`{"device":"tablet"}`)},
		{Time: now.Add(-5 * time.Hour), Severity: "low", Kind: "unusual_hour", Subject: "bob@example.com", Message: "active at 03:00"},
		{Time: now.Add(-7 * time.Hour), Severity: "high", Kind: "denial_burst", Subject: "eve@example.com", Message: "30 denials in a minute", State: "resolved"},
		{Time: now.Add(-9 * time.Hour), Severity: "critical", Kind: "exfiltration", Subject: "eve@example.com", Message: "2 GiB to one upstream"},
		{Time: now.Add(-11 * time.Hour), Severity: "low", Kind: "password_spray", Message: "source-level"},
		{Time: now.Add(-13 * time.Hour), Severity: "medium", Kind: "resource_sweep", Subject: "eve@example.com", Message: "20 resources in 10 minutes"},
	} {
		if err := e.st.CreateAlert(bg, &a); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			id = a.ID
		}
	}
	return id
}

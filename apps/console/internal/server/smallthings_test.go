package server

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// TestAlertsOfferOnlyWhatApplies lists an open, an acknowledged and a
// resolved alert: only the open one offers "acknowledge", and the
// resolved one offers nothing.
func TestAlertsOfferOnlyWhatApplies(t *testing.T) {
	e := newEnv(t, nil)
	ids := map[string]string{}
	for _, state := range []string{"open", "acknowledged", "resolved"} {
		a := &store.Alert{Time: time.Now(), Severity: "medium", Kind: "new_device", Subject: "ada", Message: state}
		if err := e.st.CreateAlert(bg, a); err != nil {
			t.Fatal(err)
		}
		if state != "open" {
			if err := e.st.SetAlertState(bg, a.ID, state); err != nil {
				t.Fatal(err)
			}
		}
		ids[state] = a.ID
	}
	_, body := e.page(domain.RoleOperator, "/alerts")
	for state, want := range map[string][]bool{"open": {true, true}, "acknowledged": {false, true}, "resolved": {false, false}} {
		for i, action := range []string{"acknowledge", "resolve"} {
			if got := strings.Contains(body, `action="/alerts/`+ids[state]+`/`+action+`"`); got != want[i] {
				t.Errorf("%s alert offers %s: %v, want %v", state, action, got, want[i])
			}
		}
	}
}

// TestRollbackAsksAndNeverToTheCurrentVersion: the history page offers no
// rollback on the version in force, a rollback form without confirmation
// leads to a confirmation that shows the diff, and the API refuses a
// rollback to the current version with 400 and leaves the history alone.
func TestRollbackAsksAndNeverToTheCurrentVersion(t *testing.T) {
	e := newEnv(t, nil)
	e.mustCall(domain.RolePolicyEditor, "PUT", "/api/v1/policies/wiki", draft{Source: goodPolicy}, 200, nil)
	e.mustCall(domain.RolePolicyEditor, "PUT", "/api/v1/policies/wiki", draft{Source: goodPolicy + "\n# second\n"}, 200, nil)

	_, body := e.page(domain.RolePolicyEditor, "/policies/wiki/history")
	if strings.Contains(body, "history?rollback=2") || !strings.Contains(body, "history?rollback=1") || strings.Contains(body, `action="/policies/wiki/rollback"`) {
		t.Errorf("history offers a rollback on the current version, or one without confirmation")
	}

	resp := e.form(domain.RolePolicyEditor, "/policies/wiki/rollback", url.Values{"version": {"1"}})
	io.Copy(io.Discard, resp.Body)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/policies/wiki/history?rollback=1" {
		t.Fatalf("unconfirmed rollback: %d to %q, want the confirmation", resp.StatusCode, loc)
	}
	if cur, _ := e.st.Policy(bg, "wiki"); cur.Version != 2 {
		t.Fatalf("unconfirmed rollback changed the policy: version %d", cur.Version)
	}
	_, body = e.page(domain.RolePolicyEditor, "/policies/wiki/history?rollback=1")
	if !strings.Contains(body, `id="confirm-rollback"`) || !strings.Contains(body, `name="confirm" value="yes"`) || !strings.Contains(body, "# second") {
		t.Errorf("confirmation page lacks the form or the diff")
	}

	var got invalidField
	if resp := e.call(domain.RolePolicyEditor, "POST", "/api/v1/policies/wiki/rollback", rollbackRequest{Version: 2}, &got); resp.StatusCode != 400 || !strings.Contains(got.Message, "already the current version") {
		t.Errorf("rollback to the current version: %d %+v", resp.StatusCode, got)
	}
	resp = e.form(domain.RolePolicyEditor, "/policies/wiki/rollback", url.Values{"version": {"2"}, "confirm": {"yes"}})
	if f := e.formFlash(resp, domain.RolePolicyEditor); f.kind != flashError || !strings.Contains(f.text, "already the current version") {
		t.Errorf("page rollback to the current version: %+v", f)
	}
	if cur, _ := e.st.Policy(bg, "wiki"); cur.Version != 2 {
		t.Fatalf("refused rollback changed the policy: version %d", cur.Version)
	}
	resp = e.form(domain.RolePolicyEditor, "/policies/wiki/rollback", url.Values{"version": {"1"}, "confirm": {"yes"}})
	if f := e.formFlash(resp, domain.RolePolicyEditor); f.kind != flashInfo {
		t.Errorf("confirmed rollback: %+v", f)
	}
	if cur, _ := e.st.Policy(bg, "wiki"); cur.Version != 3 || cur.Source != goodPolicy {
		t.Errorf("confirmed rollback: version %d", cur.Version)
	}
}

// TestPluralAndFavicon: the editor's validation says "1 rule", and every
// page links a favicon that the console serves.
func TestPluralAndFavicon(t *testing.T) {
	e := newEnv(t, nil)
	one := "rules:\n  - id: only\n    effect: deny\n    resources:\n      names: [x.corp]\n"
	req := url.Values{"name": {"one"}, "source": {one}}
	resp := e.form(domain.RolePolicyEditor, "/ui/policies/validate", req)
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "Compiles: 1 rule,") {
		t.Errorf("validation of one rule: %d %s", resp.StatusCode, body)
	}
	_, page := e.page(domain.RoleViewer, "/")
	if !strings.Contains(page, `<link rel="icon" href="/static/favicon.svg"`) {
		t.Errorf("page links no favicon")
	}
	code, icon := e.page("", "/static/favicon.svg")
	if code != 200 || !strings.HasPrefix(icon, "<svg") {
		t.Errorf("favicon: %d %.40s", code, icon)
	}
}

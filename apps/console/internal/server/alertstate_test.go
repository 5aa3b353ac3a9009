package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// TestAlertStateMovesOnlyForward drives alert states through the API and
// the page forms: an open alert can be acknowledged or resolved, an
// acknowledged one resolved; any other move (acknowledging a resolved
// alert, reopening, repeating a move) is a 409 that says why and leaves
// the alert as it was, on both paths.
func TestAlertStateMovesOnlyForward(t *testing.T) {
	e := newEnv(t, nil)
	newAlert := func() string {
		a := &store.Alert{Time: time.Now(), Severity: "medium", Kind: "new_device", Subject: "ada", Message: "a device never seen"}
		if err := e.st.CreateAlert(bg, a); err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	state := func(id string) string {
		a, err := e.st.Alert(bg, id)
		if err != nil {
			t.Fatal(err)
		}
		return a.State
	}
	move := func(id, to string, want int) string {
		t.Helper()
		resp := e.call(domain.RoleOperator, "POST", "/api/v1/alerts/"+id+"/state", map[string]string{"state": to}, nil)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s alert -> %s: %d %s, want %d", state(id), to, resp.StatusCode, body, want)
		}
		return string(body)
	}

	acked, resolved := newAlert(), newAlert()
	move(acked, "acknowledged", http.StatusNoContent)
	move(resolved, "resolved", http.StatusNoContent)
	for _, c := range []struct{ id, to, was string }{
		{resolved, "acknowledged", "resolved"},
		{resolved, "resolved", "resolved"},
		{resolved, "open", "resolved"},
		{acked, "acknowledged", "acknowledged"},
		{acked, "open", "acknowledged"},
	} {
		body := move(c.id, c.to, http.StatusConflict)
		var p struct{ Code, Message string }
		json.Unmarshal([]byte(body), &p)
		if p.Code != "conflict" || !strings.Contains(p.Message, "the alert is "+c.was+" and cannot become "+c.to) {
			t.Errorf("%s -> %s answered %s, want a conflict that says why", c.was, c.to, body)
		}
		if got := state(c.id); got != c.was {
			t.Errorf("after the refused move %s -> %s the alert is %s", c.was, c.to, got)
		}
	}
	move(acked, "resolved", http.StatusNoContent)
	move(newAlert(), "gone", http.StatusBadRequest)
	move("a_missing", "resolved", http.StatusNotFound)

	// The page's forms go through the same check: acknowledging a
	// resolved alert is refused with a message and changes nothing.
	resp := e.form(domain.RoleOperator, "/alerts/"+resolved+"/acknowledge", url.Values{})
	io.Copy(io.Discard, resp.Body)
	f := e.formFlash(resp, domain.RoleOperator)
	if resp.StatusCode != http.StatusSeeOther || f.kind != flashError || !strings.Contains(f.text, "cannot become acknowledged") {
		t.Errorf("page acknowledge of a resolved alert: %d, flash %+v", resp.StatusCode, f)
	}
	if got := state(resolved); got != "resolved" {
		t.Errorf("after the page's refused acknowledge the alert is %s", got)
	}
	open := newAlert()
	resp = e.form(domain.RoleOperator, "/alerts/"+open+"/acknowledge", url.Values{})
	io.Copy(io.Discard, resp.Body)
	if f := e.formFlash(resp, domain.RoleOperator); f.kind != flashInfo || state(open) != "acknowledged" {
		t.Errorf("page acknowledge of an open alert: flash %+v, state %s", f, state(open))
	}
}

package server

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// TestFlashIsSignedAndOneTime attacks the pages' one-line messages from
// outside: a message in the query, an unsigned cookie, a cookie signed
// for another session and an altered one each show nothing, and the
// message of a real action shows on the next page only.
func TestFlashIsSignedAndOneTime(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	addUser(t, e.st, "ada@example.com", "correct horse battery", domain.RoleAdmin)
	addUser(t, e.st, "eve@example.com", "correct horse battery", domain.RoleAdmin)
	b := newBrowser(t, hs)
	if resp := b.login("ada@example.com", "correct horse battery", ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	const planted = "<script>alert(1)</script>Call +1 555 0100 to unlock"
	noMessage := func(what, body string) {
		t.Helper()
		if hasToast(body) || strings.Contains(body, "alert(1)") || strings.Contains(body, "555 0100") {
			t.Errorf("%s: the page shows a planted message", what)
		}
	}

	// Text in the query is not shown.
	q := url.QueryEscape(planted)
	if code, body := b.get("/?flash=" + q + "&error=" + q); code != 200 {
		t.Fatalf("dashboard: %d", code)
	} else {
		noMessage("?flash= and ?error=", body)
	}

	// Cookies the console did not sign for this session are not shown,
	// and are cleared.
	u, _ := url.Parse(hs.URL)
	eve := newBrowser(t, hs)
	eve.login("eve@example.com", "correct horse battery", "")
	_, realMAC, _ := strings.Cut(sealFlash(flashKeyOf(b.sessionCookie()), flashInfo, "Saved."), ".")
	plantedBody := base64.RawURLEncoding.EncodeToString([]byte("i" + planted))
	for name, v := range map[string]string{
		"unsigned":            plantedBody,
		"empty MAC":           plantedBody + ".",
		"signed with a guess": sealFlash([]byte("guessed key"), flashInfo, planted),
		"another session's":   sealFlash(flashKeyOf(eve.sessionCookie()), flashError, planted),
		"altered":             plantedBody + "." + realMAC,
	} {
		b.c.Jar.SetCookies(u, []*http.Cookie{{Name: flashCookie, Value: v, Path: "/"}})
		_, page := b.get("/")
		noMessage(name+" cookie", page)
		if c := b.cookie(flashCookie); c != "" {
			t.Errorf("%s cookie not cleared: %q", name, c)
		}
	}

	// A real action's message shows on the next page, once.
	tok := b.csrf("/groups")
	resp, _ := b.post("/groups", url.Values{"csrf": {tok}, "name": {"ops"}})
	if resp.StatusCode != http.StatusSeeOther || strings.Contains(resp.Header.Get("Location"), "?") {
		t.Fatalf("create group: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, page := b.get("/groups"); !strings.Contains(page, `class="toast"`) || !strings.Contains(page, "Created group ops.") {
		t.Errorf("the page after the action has no message")
	}
	if _, page := b.get("/groups"); hasToast(page) {
		t.Errorf("the message shows twice")
	}
	// An error shows as one, once.
	resp, _ = b.post("/groups", url.Values{"csrf": {tok}, "name": {"bad name!"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("bad group: %d", resp.StatusCode)
	}
	if _, page := b.get("/groups"); !strings.Contains(page, `role="alert">a group name is letters`) || strings.Contains(page, `class="toast"`) {
		t.Errorf("the error is not shown as an error")
	}
	if _, page := b.get("/groups"); strings.Contains(page, `role="alert">a group name is letters`) {
		t.Errorf("the error shows twice")
	}
}

// hasToast reports whether a page shows a flash, as a toast or an error.
func hasToast(page string) bool {
	return strings.Contains(page, `class="toast"`) || strings.Contains(page, `class="toast error"`)
}

// cookie is the value of the browser's cookie name, or "".
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// formFlash is the flash a page form's answer set for the API key of
// role (see env.form), or the zero flash.
func (e *env) formFlash(resp *http.Response, role domain.Role) flash {
	e.t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == flashCookie && c.MaxAge > 0 {
			f, ok := openFlash(flashKeyOf(strings.TrimPrefix(e.keys[role], "gk_")), c.Value)
			if !ok {
				e.t.Errorf("the console set a flash cookie it does not accept: %q", c.Value)
			}
			return f
		}
	}
	return flash{}
}

// FuzzOpenFlash feeds the flash cookie's parser arbitrary values: it
// never panics, accepts only what sealFlash made with the same key, and
// what sealFlash makes always opens to the clipped text.
func FuzzOpenFlash(f *testing.F) {
	key := flashKeyOf("session")
	f.Add("Saved version 3 of wiki.", sealFlash(key, flashInfo, "Saved."), byte('i'))
	f.Add("not saved: <b>", "aQ.AAAA", byte('e'))
	f.Add(strings.Repeat("é", 700), "", byte('x'))
	f.Add("\xff\xfe", "ZQ."+strings.Repeat("A", 43), byte('e'))
	f.Fuzz(func(t *testing.T, text, cookie string, kind byte) {
		if got, ok := openFlash(key, cookie); ok {
			if sealFlash(key, got.kind, got.text) != cookie {
				t.Errorf("accepted %q, which sealFlash does not make", cookie)
			}
			if _, ok := openFlash(flashKeyOf("another session"), cookie); ok {
				t.Errorf("%q opens under two keys", cookie)
			}
		}
		k := flashKind(kind)
		sealed := sealFlash(key, k, text)
		got, ok := openFlash(key, sealed)
		want := clipFlash(text)
		valid := (k == flashInfo || k == flashError) && want != ""
		if ok != valid || (ok && (got.kind != k || got.text != want)) {
			t.Errorf("sealFlash(%q, %q) opens to %+v, %v", k, text, got, ok)
		}
		if len(want) > maxFlashText || !utf8.ValidString(want) || len(sealed) > maxFlashCookie {
			t.Errorf("clipped text of %d bytes, cookie of %d", len(want), len(sealed))
		}
	})
}

// flashOf is the flash a page form's answer set for this browser's
// session, or the zero flash.
func (b *browser) flashOf(resp *http.Response) flash {
	for _, c := range resp.Cookies() {
		if c.Name == flashCookie && c.MaxAge > 0 {
			f, _ := openFlash(flashKeyOf(b.sessionCookie()), c.Value)
			return f
		}
	}
	return flash{}
}

package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"unicode/utf8"
)

// A flash is the one-line message a page shows once after a form's
// redirect ("Saved version 3 of wiki."). It travels in a cookie, never in
// the URL: a link with the message in its query would let anyone put
// their text on a console page. The cookie is signed with a key derived
// from the credential of the request that set it (the session cookie or
// the API key's secret), so only the console can make one, only for that
// client, and a forged, altered or another session's cookie shows
// nothing. The next page the client gets consumes it, shown or not.
//
// The key comes from the client's credential rather than from a key of
// the server so that every replica of the console checks the same
// cookie without sharing a secret, and so that a flash set for one
// session cannot be planted into another's browser.
type flash struct {
	kind flashKind
	text string
}

// flashKind is how a page shows a flash; the two values are the only
// ones a cookie may carry.
type flashKind byte

const (
	flashInfo  flashKind = 'i' // a toast: what the action did
	flashError flashKind = 'e' // an error banner: why it was not done
)

const (
	flashCookie = "gonaut_flash"
	// maxFlashText bounds the text kept in a cookie (in bytes, cut at a
	// character boundary), well inside a browser's 4 KiB per cookie.
	maxFlashText = 1024
	// maxFlashCookie bounds the cookie value openFlash looks at.
	maxFlashCookie = 2048
	// flashMaxAge is how long a flash waits for the next page.
	flashMaxAge = 60
)

type flashCtxKey struct{}

// flashKeyOf is the MAC key of flash cookies for a client presenting
// credential.
func flashKeyOf(credential string) []byte {
	k, _ := base64.RawURLEncoding.DecodeString(derivedToken(credential, "flash"))
	return k
}

// sealFlash encodes a flash for a cookie value: the kind and text, a dot,
// and their HMAC-SHA256 under key. The text is cut to maxFlashText and
// made valid UTF-8.
func sealFlash(key []byte, kind flashKind, text string) string {
	text = clipFlash(text)
	body := append([]byte{byte(kind)}, text...)
	return base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(flashMAC(key, body))
}

// openFlash checks and decodes a cookie value made by sealFlash with key;
// ok is false for anything else.
func openFlash(key []byte, value string) (f flash, ok bool) {
	if len(key) == 0 || len(value) > maxFlashCookie {
		return flash{}, false
	}
	b64body, b64mac, found := strings.Cut(value, ".")
	if !found {
		return flash{}, false
	}
	// Strict: one encoding per value, so a cookie is accepted only as
	// sealFlash wrote it.
	enc := base64.RawURLEncoding.Strict()
	body, err1 := enc.DecodeString(b64body)
	mac, err2 := enc.DecodeString(b64mac)
	if err1 != nil || err2 != nil || len(body) == 0 || !hmac.Equal(mac, flashMAC(key, body)) {
		return flash{}, false
	}
	f = flash{kind: flashKind(body[0]), text: string(body[1:])}
	if (f.kind != flashInfo && f.kind != flashError) || f.text == "" || clipFlash(f.text) != f.text {
		return flash{}, false
	}
	return f, true
}

func flashMAC(key, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("gonaut flash v1\x00"))
	m.Write(body)
	return m.Sum(nil)
}

// clipFlash makes text valid UTF-8 of at most maxFlashText bytes.
func clipFlash(text string) string {
	text = strings.ToValidUTF8(text, "\uFFFD")
	if len(text) <= maxFlashText {
		return text
	}
	cut := maxFlashText
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return text[:cut]
}

// redirect answers a page's form with a redirect to path and, when msg
// is not empty, a flash of kind for the next page. A client without a
// credential to sign it with (there is none for anonymous requests)
// gets the redirect alone.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, path string, kind flashKind, msg string) {
	if msg != "" {
		if p, _ := r.Context().Value(ctxKey{}).(*principal); p != nil && len(p.flashKey) > 0 {
			s.setCookie(w, flashCookie, sealFlash(p.flashKey, kind, msg), flashMaxAge)
		}
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// takeFlash consumes the request's flash cookie: it always clears the
// cookie, and when the cookie is one this client's key signed, puts the
// flash in the request's context for pageOf.
func (s *Server) takeFlash(w http.ResponseWriter, r *http.Request, p *principal) *http.Request {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return r
	}
	s.setCookie(w, flashCookie, "", -1)
	if p == nil {
		return r
	}
	f, ok := openFlash(p.flashKey, c.Value)
	if !ok {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), flashCtxKey{}, f))
}

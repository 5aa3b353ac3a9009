package domain

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Secrets the console hands out (session ids, API key secrets, recovery
// codes) are 256-bit random tokens kept at rest only as their SHA-256.

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// RandomBytes returns n bytes from the system's random source.
func RandomBytes(n int) []byte { return randomBytes(n) }

// RandomToken returns 32 random bytes in URL-safe base64.
func RandomToken() string { return base64.RawURLEncoding.EncodeToString(randomBytes(32)) }

// TokenHash is how secrets that need no slow hash (session ids, API key
// and gateway secrets, all 256-bit random) are kept at rest.
func TokenHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// DerivedToken is a secret for one purpose (the CSRF token, the flash
// cookie's MAC key) derived from a credential the client presents on
// every request (a session cookie, an API key's secret). The console
// recomputes it from that credential instead of storing it, so whoever
// reads the store learns neither; and it is tied to the one credential,
// so what one session or key gets is worthless to another.
func DerivedToken(credential, purpose string) string {
	m := hmac.New(sha256.New, []byte(credential))
	m.Write([]byte("gonaut " + purpose))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// recoveryCodes makes n one-time codes, e.g. "k3m9-x2pq-7hva".
func recoveryCodes(n int) []string {
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	out := make([]string, n)
	for i := range out {
		c := strings.ToLower(enc.EncodeToString(randomBytes(8)))[:12]
		out[i] = c[:4] + "-" + c[4:8] + "-" + c[8:12]
	}
	return out
}

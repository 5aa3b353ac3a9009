package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for new hashes: the OWASP recommendation for
// interactive logins (19 MiB, two passes, one lane). Existing hashes carry
// their own parameters. Tests lower them to keep the race-enabled suite
// fast; nothing else changes them.
var (
	argonTime    uint32 = 2
	argonMemory  uint32 = 19 * 1024
	argonThreads uint8  = 1
)

const argonKeyLen = 32

// HashPassword returns an encoded argon2id hash of pw with a fresh salt.
func HashPassword(pw string) string {
	salt := randomBytes(16)
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// CheckPassword reports whether pw matches an encoded argon2id hash, in
// time independent of where they differ.
func CheckPassword(encoded, pw string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m > 64*1024 || t > 4 || p == 0 || p > 4 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func randomToken() string { return base64.RawURLEncoding.EncodeToString(randomBytes(32)) }

// tokenHash is how secrets that need no slow hash (session ids, API key
// and gateway secrets, all 256-bit random) are kept at rest.
func tokenHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// derivedToken is a secret for one purpose (the CSRF token, the flash
// cookie's MAC key) derived from a credential the client presents on
// every request (a session cookie, an API key's secret). The console
// recomputes it from that credential instead of storing it, so whoever
// reads the store learns neither; and it is tied to the one credential,
// so what one session or key gets is worthless to another.
func derivedToken(credential, purpose string) string {
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

// throttle limits login attempts per key (client address and account)
// with a leaky bucket: burst attempts at once, then one per interval.
type throttle struct {
	burst    int
	interval time.Duration

	mu   sync.Mutex // guards next
	next map[string]time.Time
}

// throttleMaxKeys bounds the memory of one throttle.
const throttleMaxKeys = 100000

func newThrottle(burst int, interval time.Duration) *throttle {
	return &throttle{burst: burst, interval: interval, next: map[string]time.Time{}}
}

// allow reports whether key may try now and records the attempt.
func (t *throttle) allow(key string, now time.Time) bool {
	ok, _ := t.allowWait(key, now)
	return ok
}

// allowWait is allow that also says, when it refuses, how long until
// key may try again.
func (t *throttle) allowWait(key string, now time.Time) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.next[key]; !ok && len(t.next) >= throttleMaxKeys {
		for k, v := range t.next {
			if v.Before(now) {
				delete(t.next, k)
			}
		}
		// Still full of live buckets: drop arbitrary ones rather than
		// grow without bound or refuse every newcomer.
		for k := range t.next {
			if len(t.next) < throttleMaxKeys {
				break
			}
			delete(t.next, k)
		}
	}
	n := t.next[key]
	if n.Before(now) {
		n = now
	}
	// Generic cell rate: n is when key's bucket will be full again;
	// a request fits while that is at most burst-1 intervals away (the
	// earlier test, n-now >= burst intervals, let burst+1 through
	// whenever the clock moved between requests).
	if ahead := n.Sub(now) - time.Duration(t.burst-1)*t.interval; ahead > 0 {
		return false, ahead
	}
	t.next[key] = n.Add(t.interval)
	return true, 0
}

var errLoginFailed = errors.New("console: wrong email, password or code")

package domain

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Passwords are kept as argon2id hashes in the PHC string format; the
// check reads the parameters from the hash, so hashes made with other
// parameters go on working.

// Argon2id parameters for new hashes: the OWASP recommendation for
// interactive logins (19 MiB, two passes, one lane). Existing hashes carry
// their own parameters. Tests lower them (SetPasswordCost) to keep the
// race-enabled suites fast; nothing else changes them.
var (
	argonTime    uint32 = 2
	argonMemory  uint32 = 19 * 1024
	argonThreads uint8  = 1
)

const argonKeyLen = 32

const (
	// MinPasswordLen and MaxPasswordLen bound a new password; the upper
	// bound limits the argon2 input a request can make the console hash.
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

// SetPasswordCost sets the argon2id time and memory (KiB) of new hashes
// and returns a function that restores the previous ones. It is for
// tests, which need cheap hashes; it must not be called while hashes are
// being made.
func SetPasswordCost(time, memoryKiB uint32) (restore func()) {
	t, m := argonTime, argonMemory
	argonTime, argonMemory = time, memoryKiB
	return func() { argonTime, argonMemory = t, m }
}

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

// dummyHash is what a login checks the password against when there is
// no real check to make (an unknown, disabled or backed-off account), so
// that timing does not tell them apart. It has the production
// parameters: it is made before any test lowers them.
var dummyHash = HashPassword("not a password anyone has")

// RandomPassword returns a fresh password for generated accounts.
func RandomPassword() string { return RandomToken()[:20] }

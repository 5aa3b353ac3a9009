package domain

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Secrets the console must read back (TOTP secrets) are sealed with
// AES-256-GCM under the secret key, which is kept outside the database,
// so that a copy of the database alone does not give anyone the second
// factor of every user. A sealed value is the text
//
//	sealed:v1:<key id>:<base64url(nonce | ciphertext | tag)>
//
// The key id (the first 8 hex digits of a hash of the key) turns a
// wrong key into a clear error rather than a failed decryption, and the
// additional data binds the value to its purpose and owner, so that a
// sealed secret copied into another user's row does not open.
const sealedPrefix = "sealed:v1:"

// maxSealedLen bounds what openSealed reads: TOTP secrets are 32
// characters.
const maxSealedLen = 1024

var (
	errNotSealed = errors.New("console: value is not sealed")
	// errDamaged is a sealed value under this console's key that does
	// not open.
	errDamaged = errors.New("console: sealed secret damaged")
)

// sealer seals and opens secrets; it is safe for concurrent use.
type sealer struct {
	aead cipher.AEAD
	id   string
}

func newSealer(key []byte) (*sealer, error) {
	if len(key) != SecretKeySize {
		return nil, fmt.Errorf("console: secret key has %d bytes, want %d", len(key), SecretKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, id: secretKeyID(key)}, nil
}

// secretKeyID names a key without revealing it.
func secretKeyID(key []byte) string {
	h := sha256.Sum256(append([]byte("gonaut secret key id\x00"), key...))
	return hex.EncodeToString(h[:4])
}

func sealedData(purpose, owner string) []byte {
	return []byte("gonaut " + purpose + "\x00" + owner)
}

// seal returns plaintext sealed for purpose and owner.
func (b *sealer) seal(purpose, owner, plaintext string) string {
	nonce := randomBytes(b.aead.NonceSize())
	out := b.aead.Seal(nonce, nonce, []byte(plaintext), sealedData(purpose, owner))
	return sealedPrefix + b.id + ":" + base64.RawURLEncoding.EncodeToString(out)
}

// open returns the plaintext of a value seal made for purpose and owner.
// A value that is not sealed at all is errNotSealed; one sealed under
// another key, damaged, or made for another owner is an error that says
// which.
func (b *sealer) open(purpose, owner, value string) (string, error) {
	id, box, err := parseSealed(value)
	if err != nil {
		return "", err
	}
	if id != b.id {
		return "", fmt.Errorf("console: a secret of %s is sealed with key %s but this console's secret key is %s; start it with the key file or GONAUT_CONSOLE_SECRET_KEY the database was used with", owner, id, b.id)
	}
	n := b.aead.NonceSize()
	if len(box) < n+b.aead.Overhead() {
		return "", fmt.Errorf("%w: the secret of %s is truncated", errDamaged, owner)
	}
	pt, err := b.aead.Open(nil, box[:n], box[n:], sealedData(purpose, owner))
	if err != nil {
		return "", fmt.Errorf("%w: the secret of %s does not open with key %s: it was changed or belongs to another user", errDamaged, owner, b.id)
	}
	return string(pt), nil
}

// IsSealed reports whether v is in the sealed format (it may still fail
// to open).
func IsSealed(v string) bool { return strings.HasPrefix(v, sealedPrefix) }

// parseSealed splits a sealed value into its key id and its nonce,
// ciphertext and tag.
func parseSealed(v string) (id string, box []byte, err error) {
	rest, ok := strings.CutPrefix(v, sealedPrefix)
	if !ok {
		return "", nil, errNotSealed
	}
	if len(v) > maxSealedLen {
		return "", nil, fmt.Errorf("console: sealed value of %d bytes is too long", len(v))
	}
	id, enc, ok := strings.Cut(rest, ":")
	if !ok || len(id) != 8 || strings.Trim(id, "0123456789abcdef") != "" {
		return "", nil, errors.New("console: sealed value has no valid key id")
	}
	box, err = base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil {
		return "", nil, fmt.Errorf("console: sealed value: %w", err)
	}
	return id, box, nil
}

package tunnel

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"golang.org/x/crypto/curve25519"
)

// KeyLen is the length in bytes of WireGuard private, public and preshared
// keys.
const KeyLen = 32

// A Key is a WireGuard key: a Curve25519 private or public key, or a
// preshared key. Its text form is standard base64, as in wg(8) and wg-quick
// files. The zero Key means "no key".
type Key [KeyLen]byte

// GeneratePrivateKey returns a new random Curve25519 private key, clamped as
// RFC 7748 describes.
func GeneratePrivateKey() (Key, error) {
	k, err := GeneratePresharedKey()
	if err != nil {
		return Key{}, err
	}
	k.clamp()
	return k, nil
}

// GeneratePresharedKey returns 32 random bytes for use as a preshared key.
func GeneratePresharedKey() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return Key{}, fmt.Errorf("tunnel: generate key: %w", err)
	}
	return k, nil
}

// ParseKey parses the base64 text form of a key.
func ParseKey(s string) (Key, error) {
	var k Key
	if len(s) != base64.StdEncoding.EncodedLen(KeyLen) {
		return Key{}, fmt.Errorf("%w: want %d base64 characters, got %d", ErrInvalidKey, base64.StdEncoding.EncodedLen(KeyLen), len(s))
	}
	// Decode into a buffer with room to spare: 44 characters without the
	// trailing '=' would decode to 33 bytes.
	var buf [KeyLen + 3]byte
	n, err := base64.StdEncoding.Decode(buf[:], []byte(s))
	if err != nil || n != KeyLen {
		return Key{}, fmt.Errorf("%w: not base64 of %d bytes", ErrInvalidKey, KeyLen)
	}
	copy(k[:], buf[:KeyLen])
	return k, nil
}

// PublicKey derives the public key of the private key k.
func (k Key) PublicKey() Key {
	var pub Key
	priv := k
	priv.clamp()
	curve25519.ScalarBaseMult((*[32]byte)(&pub), (*[32]byte)(&priv))
	return pub
}

// IsZero reports whether k is the zero key.
func (k Key) IsZero() bool { return k == Key{} }

// String returns the base64 form of k.
func (k Key) String() string { return base64.StdEncoding.EncodeToString(k[:]) }

// MarshalText implements encoding.TextMarshaler (base64).
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (base64).
func (k *Key) UnmarshalText(b []byte) error {
	p, err := ParseKey(string(b))
	if err != nil {
		return err
	}
	*k = p
	return nil
}

// hex returns the lowercase hex form used by the UAPI protocol.
func (k Key) hex() string { return hex.EncodeToString(k[:]) }

func (k *Key) clamp() {
	k[0] &= 248
	k[31] = (k[31] & 127) | 64
}

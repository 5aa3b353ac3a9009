package domain

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// SecretKeySize is the length of the key that seals secrets the console
// must be able to read back (TOTP secrets): 32 bytes for AES-256-GCM.
const SecretKeySize = 32

// ParseSecretKey decodes a secret key as kept in a key file or in an
// environment variable: the standard base64 of SecretKeySize bytes,
// surrounding white space allowed.
func ParseSecretKey(text []byte) ([]byte, error) {
	t := bytes.TrimSpace(text)
	if len(t) > 2*SecretKeySize {
		return nil, fmt.Errorf("console: secret key: %d characters, want the base64 of %d bytes", len(t), SecretKeySize)
	}
	key := make([]byte, base64.StdEncoding.DecodedLen(len(t)))
	n, err := base64.StdEncoding.Decode(key, t)
	if err != nil {
		return nil, fmt.Errorf("console: secret key: not base64: %w", err)
	}
	if n != SecretKeySize {
		return nil, fmt.Errorf("console: secret key: %d bytes, want %d", n, SecretKeySize)
	}
	return key[:n], nil
}

// LoadOrCreateSecretKey reads the secret key in the file at path, or,
// when there is no such file, creates it (mode 0600) with a new random
// key and reports created. Two processes starting together end up with
// the same key: the file appears whole, at once, or not at all.
func LoadOrCreateSecretKey(path string) (key []byte, created bool, err error) {
	data, err := os.ReadFile(path)
	if err == nil {
		key, err := ParseSecretKey(data)
		if err != nil {
			return nil, false, fmt.Errorf("%w (in %s)", err, path)
		}
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("console: secret key: %w", err)
	}
	key = randomBytes(SecretKeySize)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secret-key-*")
	if err != nil {
		return nil, false, fmt.Errorf("console: secret key: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600 already; say so for the reader.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("console: secret key: %w", err)
	}
	_, werr := tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	serr := tmp.Sync()
	if err := errors.Join(werr, serr, tmp.Close()); err != nil {
		return nil, false, fmt.Errorf("console: secret key: %w", err)
	}
	// A hard link never replaces an existing file: a key another process
	// created first wins, and this one is read back instead.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			key, _, err := LoadOrCreateSecretKey(path)
			return key, false, err
		}
		return nil, false, fmt.Errorf("console: secret key: %w", err)
	}
	return key, true, nil
}

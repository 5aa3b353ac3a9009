package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The audit signing key signs checkpoints of the audit chain. It lives
// outside the database on purpose: in GONAUT_AUDIT_KEY, or in a file
// (PKCS #8 PEM, mode 0600) next to the SQLite database or, for
// PostgreSQL, in the working directory, unless -audit-key names another.

const (
	auditKeyEnv  = "GONAUT_AUDIT_KEY"
	auditKeyName = "audit-signing.key"
)

// defaultAuditKeyPath is where the key file lives for the store dsn.
func defaultAuditKeyPath(dsn string) string {
	if isPostgres(dsn) {
		return auditKeyName
	}
	return filepath.Join(filepath.Dir(dsn), auditKeyName)
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// loadAuditKey returns the signing key from the environment or from
// path; when neither has one and create is set it generates a key and
// writes it to path with mode 0600. created reports that it did.
func loadAuditKey(path string, create bool) (key ed25519.PrivateKey, created bool, err error) {
	if v := os.Getenv(auditKeyEnv); v != "" {
		k, err := parseAuditKey([]byte(v))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", auditKeyEnv, err)
		}
		return k, false, nil
	}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		k, err := parseAuditKey(b)
		if err != nil {
			return nil, false, fmt.Errorf("audit key %s: %w", path, err)
		}
		return k, false, nil
	case !errors.Is(err, fs.ErrNotExist) || !create:
		return nil, false, fmt.Errorf("audit key: %w", err)
	}
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, false, err
	}
	// O_EXCL: two consoles starting together never overwrite each
	// other's key; the loser reads the winner's.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadAuditKey(path, false)
	}
	if err != nil {
		return nil, false, fmt.Errorf("audit key: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		os.Remove(path)
		return nil, false, fmt.Errorf("audit key: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, false, fmt.Errorf("audit key: %w", err)
	}
	return k, true, nil
}

// parseAuditKey reads a PKCS #8 PEM Ed25519 private key, or the standard
// base64 of a 32-byte seed (handier in an environment variable).
func parseAuditKey(b []byte) (ed25519.PrivateKey, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		ek, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, errors.New("not an Ed25519 key")
		}
		return ek, nil
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("neither a PKCS #8 PEM Ed25519 key nor the base64 of a 32-byte seed")
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

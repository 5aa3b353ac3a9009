package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseAuditKey: whatever a key file or the environment holds, the
// parser returns a working Ed25519 key or an error, never a panic.
func FuzzParseAuditKey(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, auditKeyName)
	if _, _, err := loadAuditKey(path, true); err != nil {
		f.Fatal(err)
	}
	pemKey, _ := os.ReadFile(path)
	f.Add(string(pemKey))
	f.Add(base64.StdEncoding.EncodeToString(make([]byte, 32)))
	f.Add(base64.StdEncoding.EncodeToString(make([]byte, 31)))
	f.Add("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		k, err := parseAuditKey([]byte(in))
		if err != nil {
			return
		}
		if len(k) != ed25519.PrivateKeySize {
			t.Fatalf("key of %d bytes", len(k))
		}
		sig := ed25519.Sign(k, []byte("x"))
		if !ed25519.Verify(k.Public().(ed25519.PublicKey), []byte("x"), sig) {
			t.Fatal("key does not verify its own signature")
		}
	})
}

// TestAuditKeyFile: the first start creates a 0600 key, later starts
// read the same one, and the environment variable wins over the file.
func TestAuditKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), auditKeyName)
	k1, created, err := loadAuditKey(path, true)
	if err != nil || !created {
		t.Fatalf("first load: %v, created %t", err, created)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", fi.Mode().Perm())
	}
	k2, created, err := loadAuditKey(path, true)
	if err != nil || created || !k1.Equal(k2) {
		t.Fatalf("second load: %v, created %t, same %t", err, created, k1.Equal(k2))
	}
	if _, _, err := loadAuditKey(filepath.Join(t.TempDir(), "absent"), false); err == nil {
		t.Error("a missing key file without create loaded")
	}
	seed := make([]byte, 32)
	seed[0] = 1
	t.Setenv(auditKeyEnv, base64.StdEncoding.EncodeToString(seed))
	k3, _, err := loadAuditKey(path, true)
	if err != nil || !k3.Equal(ed25519.NewKeyFromSeed(seed)) {
		t.Errorf("environment key: %v", err)
	}
	t.Setenv(auditKeyEnv, "not a key")
	if _, _, err := loadAuditKey(path, true); err == nil {
		t.Error("a bad environment key loaded")
	}
}

package domain

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestSealOpen(t *testing.T) {
	b, err := newSealer(randomBytes(SecretKeySize))
	if err != nil {
		t.Fatal(err)
	}
	v := b.seal(purposeTOTP, "u_1", "JBSWY3DPEHPK3PXP")
	if !IsSealed(v) || strings.Contains(v, "JBSWY3DPEHPK3PXP") {
		t.Fatalf("sealed value %q", v)
	}
	if pt, err := b.open(purposeTOTP, "u_1", v); err != nil || pt != "JBSWY3DPEHPK3PXP" {
		t.Errorf("open = %q, %v", pt, err)
	}
	if _, err := b.open(purposeTOTP, "u_2", v); err == nil {
		t.Error("opened for another owner")
	}
	if _, err := b.open("other", "u_1", v); err == nil {
		t.Error("opened for another purpose")
	}
	other, _ := newSealer(randomBytes(SecretKeySize))
	if _, err := other.open(purposeTOTP, "u_1", v); err == nil || !strings.Contains(err.Error(), "sealed with key") {
		t.Errorf("another key: %v", err)
	}
	if _, err := b.open(purposeTOTP, "u_1", "JBSWY3DPEHPK3PXP"); err != errNotSealed {
		t.Errorf("plaintext: %v, want errNotSealed", err)
	}
	flipped := []byte(v)
	flipped[len(flipped)-3] ^= 1
	if _, err := b.open(purposeTOTP, "u_1", string(flipped)); err == nil {
		t.Error("a changed value opened")
	}
	if _, err := newSealer(make([]byte, 16)); err == nil {
		t.Error("a 16-byte key was accepted")
	}
}

// FuzzOpenSealed feeds arbitrary stored values to the sealed-secret
// decoder: it never panics, never returns plaintext for a value it did
// not seal, and opens what it sealed.
func FuzzOpenSealed(f *testing.F) {
	key := make([]byte, SecretKeySize)
	b, _ := newSealer(key)
	f.Add(b.seal(purposeTOTP, "u_1", "JBSWY3DPEHPK3PXP"))
	f.Add("sealed:v1:")
	f.Add("sealed:v1:0000000:")
	f.Add("sealed:v1:" + b.id + ":")
	f.Add("sealed:v1:" + b.id + ":AAAA")
	f.Add("sealed:v1:" + b.id + ":!!!")
	f.Add("JBSWY3DPEHPK3PXP")
	f.Fuzz(func(t *testing.T, v string) {
		pt, err := b.open(purposeTOTP, "u_1", v)
		if err == nil && b.seal(purposeTOTP, "u_1", pt) == v {
			t.Fatal("seal is deterministic")
		}
		if err == nil && !IsSealed(v) {
			t.Fatalf("opened an unsealed value %q", v)
		}
		if s := b.seal(purposeTOTP, "u_1", v); len(v) < 512 {
			if got, err := b.open(purposeTOTP, "u_1", s); err != nil || got != v {
				t.Fatalf("round trip of %q: %q, %v", v, got, err)
			}
		}
	})
}

func TestLoadOrCreateSecretKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "console-secret.key")
	// Several consoles starting together agree on one key.
	keys := make([][]byte, 4)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, _, err := LoadOrCreateSecretKey(path)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if string(k) != string(keys[0]) || len(k) != SecretKeySize {
			t.Fatal("concurrent starts made different keys")
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v; want 0600", fi.Mode(), err)
	}
	again, created, err := LoadOrCreateSecretKey(path)
	if err != nil || created || string(again) != string(keys[0]) {
		t.Errorf("reload: created %v, %v", created, err)
	}
	os.WriteFile(path, []byte("not a key\n"), 0o600)
	if _, _, err := LoadOrCreateSecretKey(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("bad key file: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".secret-key-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// FuzzParseSecretKey: any text is a 32-byte key or an error.
func FuzzParseSecretKey(f *testing.F) {
	f.Add([]byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"))
	f.Add([]byte(" AAAA "))
	f.Add([]byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="))
	f.Add([]byte("%%%"))
	f.Fuzz(func(t *testing.T, text []byte) {
		k, err := ParseSecretKey(text)
		if err == nil && len(k) != SecretKeySize {
			t.Fatalf("key of %d bytes", len(k))
		}
	})
}

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// serveOnce starts console serve, waits until it answers (or exits) and
// stops it, returning its exit code, stdout and stderr.
func serveOnce(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"serve", "-listen", addr}, args...), &out, &errb) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case code := <-done:
			return code, out.String(), errb.String()
		default:
		}
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("console never came up: %s", errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	code := <-done
	return code, out.String(), errb.String()
}

// TestSecretKeyFile starts the console on a fresh database: it creates
// the key file next to the database (0600) and says so, reuses it on the
// next start, and refuses to start with a malformed key or with a key
// other than the one the database's TOTP secrets are sealed with.
func TestSecretKeyFile(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "console.db")
	keyPath := filepath.Join(dir, secretKeyFileName)
	code, out, errText := serveOnce(t, "-db", db)
	if code != 0 || !strings.Contains(out, "created "+keyPath) {
		t.Fatalf("first start: %d %q %q", code, out, errText)
	}
	fi, err := os.Stat(keyPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	key, _ := os.ReadFile(keyPath)

	// A user whose secret an older console stored in the clear; the next
	// start seals it under the file's key.
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	u := &store.User{Email: "old@example.com", Role: store.RoleViewer, PasswordHash: "h", TOTPSecret: "JBSWY3DPEHPK3PXP", TOTPEnabled: true}
	if err := st.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if code, out, errText := serveOnce(t, "-db", db); code != 0 || strings.Contains(out, "created") || !strings.Contains(out, "secret key: "+keyPath) {
		t.Fatalf("second start: %d %q %q", code, out, errText)
	}
	if again, _ := os.ReadFile(keyPath); !bytes.Equal(again, key) {
		t.Error("the key file changed")
	}
	st, _ = store.Open(context.Background(), db)
	got, _ := st.User(context.Background(), u.ID)
	st.Close()
	if !strings.HasPrefix(got.TOTPSecret, "sealed:v1:") {
		t.Errorf("plaintext secret not sealed at start: %q", got.TOTPSecret)
	}

	t.Setenv(secretKeyEnv, "not base64!")
	if code, _, errText := serveOnce(t, "-db", db); code != 1 || !strings.Contains(errText, secretKeyEnv) {
		t.Errorf("malformed %s: %d %q", secretKeyEnv, code, errText)
	}
	t.Setenv(secretKeyEnv, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, domain.SecretKeySize)))
	if code, _, errText := serveOnce(t, "-db", db); code != 1 || !strings.Contains(errText, "sealed with key") {
		t.Errorf("another key: %d %q", code, errText)
	}
	// With the key lost, turning every user's TOTP off lets a console
	// with a new key start.
	var out2, err2 bytes.Buffer
	if code := run(context.Background(), []string{"user", "reset-mfa", "-all", "-db", db}, &out2, &err2); code != 0 || !strings.Contains(out2.String(), "for 1 users") {
		t.Fatalf("reset-mfa -all: %d %q %q", code, out2.String(), err2.String())
	}
	if code, _, errText := serveOnce(t, "-db", db); code != 0 {
		t.Errorf("start with a new key after reset-mfa -all: %d %q", code, errText)
	}
	st, _ = store.Open(context.Background(), db)
	got, _ = st.User(context.Background(), u.ID)
	st.Close()
	if got.TOTPEnabled || got.TOTPSecret != "" {
		t.Errorf("after reset-mfa: %+v", got)
	}
	if code := run(context.Background(), []string{"user", "reset-mfa", "-db", db}, &out2, &err2); code != 1 {
		t.Errorf("reset-mfa without -email or -all: %d", code)
	}
	t.Setenv(secretKeyEnv, strings.TrimSpace(string(key)))
	if code, out, errText := serveOnce(t, "-db", db); code != 0 || !strings.Contains(out, "from "+secretKeyEnv) {
		t.Errorf("the file's key given in %s: %d %q %q", secretKeyEnv, code, out, errText)
	}
}

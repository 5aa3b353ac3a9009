package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gonaut/gonaut/ztna/controlplane"
)

// TestConsoleRegistersOnce checks that --console registers with the
// one-time token once and that a restart reuses the stored credential.
// The console here is a stand-in speaking the /cp/v1/ protocol: the real
// one lives under apps/console/internal and cannot be imported from here.
func TestConsoleRegistersOnce(t *testing.T) {
	var mu sync.Mutex
	registrations := 0
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/cp/v1/register":
			var req controlplane.RegisterRequest
			json.NewDecoder(r.Body).Decode(&req)
			if req.Token != "gwt_once" || registrations > 0 {
				w.WriteHeader(http.StatusUnauthorized)
				json.NewEncoder(w).Encode(controlplane.Error{Status: 401, Code: "unauthorized", Message: "token used"})
				return
			}
			registrations++
			json.NewEncoder(w).Encode(controlplane.Credential{GatewayID: "g_1", Secret: "s"})
		case "/cp/v1/bundle":
			if r.Header.Get("Authorization") != "Bearer g_1.s" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			json.NewEncoder(w).Encode(controlplane.Bundle{Version: 3})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(hs.Close)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("gwt_once\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func(args ...string) (*consoleLink, error) {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		cf := addConsoleFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return cf.open(context.Background(), log, filepath.Join(dir, "state"))
	}
	l, err := open("--console", hs.URL, "--token-file", tokenFile, "--name", "gw-test")
	if err != nil {
		t.Fatal(err)
	}
	if l.first == nil || l.first.Version != 3 {
		t.Errorf("first bundle = %+v, want version 3", l.first)
	}
	l.close()
	l.close() // safe twice

	// Restarted: the token is spent, the stored credential is used.
	os.Remove(tokenFile)
	l, err = open("--console", hs.URL)
	if err != nil {
		t.Fatalf("restart with the stored credential: %v", err)
	}
	l.close()
	mu.Lock()
	n := registrations
	mu.Unlock()
	if n != 1 {
		t.Errorf("registrations = %d, want 1", n)
	}

	// A fresh state dir without a token is a usage error, not a hang.
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	cf := addConsoleFlags(fs)
	fs.Parse([]string{"--console", hs.URL})
	if _, err := cf.open(context.Background(), log, t.TempDir()); err == nil {
		t.Error("unregistered gateway without --token-file opened")
	}
}

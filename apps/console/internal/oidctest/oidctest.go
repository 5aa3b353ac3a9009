// Package oidctest runs a real OpenID Connect provider for tests:
// oidc-provider (npm, the OpenID Certified Node.js provider) on
// 127.0.0.1, installed into testdata/oidc-provider on first use.
package oidctest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Version is the oidc-provider release the tests run.
const Version = "9.13.3"

// Client is a client registered at the provider.
type Client struct {
	ID, Secret   string
	RedirectURIs []string
}

// Account is a person the provider signs in.
type Account struct {
	Email         string
	EmailVerified bool
	Name          string
	AMR           []string // the authentication methods (RFC 8176); default pwd
}

// Provider is a running provider.
type Provider struct {
	Issuer string
	cmd    *exec.Cmd
}

// dir is where the provider is installed: this package's testdata.
func dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata", "oidc-provider")
}

// install runs npm install once, under a file lock so that packages
// testing in parallel do not race. Without npm the test is skipped,
// unless CI is set: there it fails.
func install(t testing.TB) string {
	t.Helper()
	d := dir()
	if _, err := exec.LookPath("node"); err != nil {
		missing(t, "node")
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(d, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	pkg := filepath.Join(d, "node_modules", "oidc-provider", "package.json")
	if b, err := os.ReadFile(pkg); err == nil && strings.Contains(string(b), `"version": "`+Version+`"`) {
		return d
	}
	if _, err := exec.LookPath("npm"); err != nil {
		missing(t, "npm")
	}
	out, err := exec.Command("npm", "install", "--no-audit", "--no-fund", "--prefix", d, "oidc-provider@"+Version).CombinedOutput()
	if err != nil {
		t.Fatalf("npm install oidc-provider@%s: %v\n%s", Version, err, out)
	}
	return d
}

func missing(t testing.TB, tool string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed; .ci/run installs Node.js and oidc-provider", tool)
	}
	t.Skipf("%s is not installed: the OpenID Connect tests need Node.js and npm (oidc-provider %s)", tool, Version)
}

// Start runs a provider with clients and accounts (by id, the subject)
// until the test ends.
func Start(t testing.TB, clients []Client, accounts map[string]Account) *Provider {
	t.Helper()
	d := install(t)
	script, err := os.ReadFile(filepath.Join(filepath.Dir(d), "..", "provider.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	// The script must sit beside node_modules to import it.
	path := filepath.Join(d, fmt.Sprintf("provider-%d.mjs", os.Getpid()))
	if err := os.WriteFile(path, script, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var cs []map[string]any
	for _, c := range clients {
		cs = append(cs, map[string]any{"client_id": c.ID, "client_secret": c.Secret, "redirect_uris": c.RedirectURIs,
			"grant_types": []string{"authorization_code"}, "response_types": []string{"code"}, "token_endpoint_auth_method": "client_secret_basic"})
	}
	as := map[string]any{}
	for id, a := range accounts {
		as[id] = map[string]any{"email": a.Email, "email_verified": a.EmailVerified, "name": a.Name, "amr": a.AMR}
	}
	cj, _ := json.Marshal(cs)
	aj, _ := json.Marshal(as)
	cmd := exec.Command("node", path)
	cmd.Dir = d
	cmd.Env = append(os.Environ(), fmt.Sprintf("OIDC_PORT=%d", port), "OIDC_CLIENTS="+string(cj), "OIDC_ACCOUNTS="+string(aj), "NODE_ENV=test")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Provider{Issuer: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
	up := make(chan bool, 1)
	logs := make(chan struct{})
	go func() {
		defer close(logs)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "listening ") {
				up <- true
			}
			t.Logf("oidc-provider: %s", sc.Text())
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		<-logs
		os.Remove(path)
	})
	select {
	case <-up:
	case <-time.After(30 * time.Second):
		t.Fatal("oidc-provider did not start within 30s")
	}
	return p
}

// Stop ends the provider at once: a provider that is down. The test's
// cleanup waits for it.
func (p *Provider) Stop() { p.cmd.Process.Kill() }

// AsAccount returns a CheckRedirect that signs in account at the
// provider's interaction (appending ?account=) and follows every other
// redirect, up to 20.
func (p *Provider) AsAccount(account string) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= 20 {
			return fmt.Errorf("oidctest: too many redirects")
		}
		if strings.HasPrefix(req.URL.String(), p.Issuer+"/interaction/") {
			q := req.URL.Query()
			q.Set("account", account)
			req.URL.RawQuery = q.Encode()
		}
		return nil
	}
}

// Code runs the authorization request authURL as account in client c
// and returns the redirect back to the client without following it.
func (p *Provider) Code(t testing.TB, c *http.Client, authURL, redirect, account string) *url.URL {
	t.Helper()
	hc := *c
	var back *url.URL
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirect) {
			back = req.URL
			return http.ErrUseLastResponse
		}
		return p.AsAccount(account)(req, via)
	}
	resp, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if back == nil {
		t.Fatalf("the provider did not redirect back to %s (status %d)", redirect, resp.StatusCode)
	}
	return back
}

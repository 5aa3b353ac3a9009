package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// as PEM files and returns their paths and a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "console test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// serveConsole runs "console serve" with args until the test ends and
// returns its address and output.
func serveConsole(t *testing.T, c *http.Client, scheme string, args ...string) (addr string, stdout, stderr *lockedBuffer) {
	t.Helper()
	addr = freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int)
	go func() {
		done <- run(ctx, append([]string{"serve", "-db", filepath.Join(t.TempDir(), "c.db"), "-listen", addr}, args...), stdout, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve %v exited %d: %s", args, code, stderr)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.Get(scheme + "://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return addr, stdout, stderr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("console at %s never came up: %v; %s", addr, err, stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockedBuffer is a bytes.Buffer that the console writes while a test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// loginCookie gets the login page and returns the cookie it sets.
func loginCookie(t *testing.T, c *http.Client, url string) *http.Cookie {
	t.Helper()
	resp, err := c.Get(url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == "gonaut_login_csrf" {
			return ck
		}
	}
	t.Fatalf("GET %s/login set no login cookie", url)
	return nil
}

// TestServeTLS starts the console with a certificate and key: it speaks
// HTTPS only, says so, and marks its cookies Secure; without them it
// warns at start and its cookies are not Secure; behind a TLS proxy its
// cookies are Secure over HTTP.
func TestServeTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer tlsClient.CloseIdleConnections()

	t.Run("tls", func(t *testing.T) {
		addr, stdout, stderr := serveConsole(t, tlsClient, "https", "-tls-cert", certFile, "-tls-key", keyFile)
		if ck := loginCookie(t, tlsClient, "https://"+addr); !ck.Secure || !ck.HttpOnly {
			t.Errorf("cookie over HTTPS: %+v", ck)
		}
		resp, err := tlsClient.Get("https://" + addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.TLS == nil || resp.Header.Get("Strict-Transport-Security") == "" {
			t.Errorf("no TLS or no HSTS: %v %q", resp.TLS, resp.Header.Get("Strict-Transport-Security"))
		}
		// Plain HTTP to the same port gets no console page.
		if resp, err := http.Get("http://" + addr + "/login"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Error("the TLS console answered plain HTTP")
			}
		}
		if !strings.Contains(stdout.String(), "https://"+addr) || !strings.Contains(stdout.String(), "cookies are Secure") || strings.Contains(stderr.String(), "WARNING") {
			t.Errorf("start-up output: %q, %q", stdout, stderr)
		}
	})
	t.Run("plain", func(t *testing.T) {
		addr, _, stderr := serveConsole(t, http.DefaultClient, "http")
		if ck := loginCookie(t, http.DefaultClient, "http://"+addr); ck.Secure {
			t.Errorf("Secure cookie over plain HTTP: %+v", ck)
		}
		if !strings.Contains(stderr.String(), "WARNING: the console speaks plain HTTP") {
			t.Errorf("no warning at start: %q", stderr)
		}
	})
	t.Run("behind a TLS proxy", func(t *testing.T) {
		addr, stdout, _ := serveConsole(t, http.DefaultClient, "http", "-behind-tls-proxy")
		if ck := loginCookie(t, http.DefaultClient, "http://"+addr); !ck.Secure {
			t.Errorf("cookie behind a TLS proxy: %+v", ck)
		}
		if !strings.Contains(stdout.String(), "behind a TLS proxy") {
			t.Errorf("start-up output: %q", stdout)
		}
	})
	t.Run("bad flags", func(t *testing.T) {
		var out, errb bytes.Buffer
		for _, args := range [][]string{{"-tls-cert", certFile}, {"-tls-key", keyFile}, {"-tls-cert", keyFile, "-tls-key", certFile}} {
			errb.Reset()
			if code := run(context.Background(), append([]string{"serve", "-db", filepath.Join(t.TempDir(), "c.db"), "-listen", freeAddr(t)}, args...), &out, &errb); code != 1 || !strings.Contains(errb.String(), "-tls-") {
				t.Errorf("serve %v: exit %d, %q", args, code, errb.String())
			}
		}
	})
}

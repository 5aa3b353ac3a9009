package domain

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gonaut/gonaut/apps/console/internal/oidctest"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// fakeIssuer is an OpenID provider of the test's own: a discovery
// document and a JWKS with one RSA key. It is a fake because a real
// provider (see TestIDTokenOfAnotherClient) never mints the tokens these
// tests need: unsigned, "none", signed by a key it does not publish,
// issued in the future or by someone else.
type fakeIssuer struct {
	url  string
	key  *rsa.PrivateKey
	down atomic.Bool // discovery answers 503
	hits atomic.Int32
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func newFakeIssuer(t testing.TB) *fakeIssuer {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIssuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		if f.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"issuer": f.url, "authorization_endpoint": f.url + "/auth", "token_endpoint": f.url + "/token",
			"jwks_uri": f.url + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]any{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())}}})
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	f.url = hs.URL
	return f
}

func (f *fakeIssuer) provider(t testing.TB) *oidc.Provider {
	p, err := oidc.NewProvider(context.Background(), f.url)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// token signs claims with key under header.
func rs256(t testing.TB, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": kid, "typ": "JWT"})
	c, _ := json.Marshal(claims)
	in := b64(h) + "." + b64(c)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + b64(sig)
}

func (f *fakeIssuer) claims(now time.Time) map[string]any {
	return map[string]any{"iss": f.url, "sub": "ann", "aud": "console", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
		"nonce": "n1", "email": "ann@example.com", "email_verified": true}
}

func TestVerifyIDTokenRefusesForgedTokens(t *testing.T) {
	f := newFakeIssuer(t)
	p := f.provider(t)
	now := time.Now()
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	with := func(k string, v any) map[string]any {
		c := f.claims(now)
		c[k] = v
		return c
	}
	pub := f.key.PublicKey
	hsKey := pub.N.Bytes()
	none := func(c map[string]any) string {
		h, _ := json.Marshal(map[string]string{"alg": "none"})
		b, _ := json.Marshal(c)
		return b64(h) + "." + b64(b) + "."
	}
	hs256 := func(c map[string]any) string {
		h, _ := json.Marshal(map[string]string{"alg": "HS256", "kid": "k1"})
		b, _ := json.Marshal(c)
		in := b64(h) + "." + b64(b)
		m := hmac.New(sha256.New, hsKey)
		m.Write([]byte(in))
		return in + "." + b64(m.Sum(nil))
	}
	good := rs256(t, f.key, "k1", f.claims(now))
	cases := []struct {
		name, raw, nonce string
		ok               bool
	}{
		{"a good token", good, "n1", true},
		{"alg none", none(f.claims(now)), "n1", false},
		{"unsigned", strings.Join(strings.Split(good, ".")[:2], "."), "n1", false},
		{"an empty signature", strings.Join(strings.Split(good, ".")[:2], ".") + ".", "n1", false},
		{"HS256 with the public key as secret", hs256(f.claims(now)), "n1", false},
		{"a key the provider does not publish", rs256(t, other, "k2", f.claims(now)), "n1", false},
		{"another key under the provider's kid", rs256(t, other, "k1", f.claims(now)), "n1", false},
		{"issued in the future", rs256(t, f.key, "k1", with("iat", now.Add(time.Hour).Unix())), "n1", false},
		{"expired", rs256(t, f.key, "k1", with("exp", now.Add(-time.Minute).Unix())), "n1", false},
		{"another issuer", rs256(t, f.key, "k1", with("iss", "https://evil.example")), "n1", false},
		{"another audience", rs256(t, f.key, "k1", with("aud", "other")), "n1", false},
		{"another nonce", good, "n2", false},
		{"no nonce", rs256(t, f.key, "k1", with("nonce", "")), "", false},
		{"not a token", "garbage", "n1", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, claims, err := verifyIDToken(context.Background(), p, "console", c.raw, c.nonce, now)
			if (err == nil) != c.ok {
				t.Fatalf("accepted %v, want %v (err %v)", err == nil, c.ok, err)
			}
			if c.ok && (claims.Email != "ann@example.com" || !claims.emailVerified()) {
				t.Fatalf("claims %+v", claims)
			}
		})
	}
}

// TestIDTokenOfAnotherClient: a real provider's ID token for another
// client of the same provider does not sign in to this one.
func TestIDTokenOfAnotherClient(t *testing.T) {
	const redirect = "http://127.0.0.1:1/callback"
	prov := oidctest.Start(t, []oidctest.Client{{ID: "console", Secret: "cs", RedirectURIs: []string{redirect}}, {ID: "other", Secret: "os", RedirectURIs: []string{redirect}}},
		map[string]oidctest.Account{"ann": {Email: "ann@example.com", EmailVerified: true}})
	ctx := context.Background()
	p, err := oidc.NewProvider(ctx, prov.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	cfg := oauth2.Config{ClientID: "other", ClientSecret: "os", RedirectURL: redirect, Endpoint: p.Endpoint(), Scopes: DefaultOIDCScopes}
	v := oauth2.GenerateVerifier()
	jar, _ := cookiejar.New(nil)
	back := prov.Code(t, &http.Client{Jar: jar}, cfg.AuthCodeURL("st", oidc.Nonce("n1"), oauth2.S256ChallengeOption(v)), redirect, "ann")
	tok, err := cfg.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if _, _, err := verifyIDToken(ctx, p, "other", raw, "n1", time.Now()); err != nil {
		t.Fatalf("the token of other for other: %v", err)
	}
	if _, _, err := verifyIDToken(ctx, p, "console", raw, "n1", time.Now()); err == nil {
		t.Fatal("the token of other was accepted for console")
	}
}

// FuzzVerifyIDToken: whatever a provider or an attacker sends as an ID
// token, verification returns an error and never panics; only a token
// signed by the provider's key is accepted.
func FuzzVerifyIDToken(f *testing.F) {
	iss := newFakeIssuer(f)
	p := iss.provider(f)
	now := time.Now()
	good := rs256(f, iss.key, "k1", iss.claims(now))
	parts := strings.Split(good, ".")
	f.Add(good)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add("e30.e30.")
	f.Add("")
	f.Fuzz(func(t *testing.T, raw string) {
		_, c, err := verifyIDToken(context.Background(), p, "console", raw, "n1", now)
		if err == nil && raw != good {
			t.Fatalf("accepted a token the provider did not sign: %q (%+v)", raw, c)
		}
	})
}

// FuzzOpenOIDCState: the state cookie comes from the browser; any value
// is refused or opens to what the console sealed, never panics.
func FuzzOpenOIDCState(f *testing.F) {
	s, err := New(storetest.SQLite(f), Options{})
	if err != nil {
		f.Fatal(err)
	}
	sealed := s.SealOIDCState(OIDCState{Tenant: "t", State: "s", Expires: time.Now().Add(time.Hour).Unix()})
	f.Add(sealed)
	f.Add(sealed[:len(sealed)-2])
	f.Add("sealed:v1:00000000:AAAA")
	f.Fuzz(func(t *testing.T, v string) {
		st, err := s.OpenOIDCState(v)
		if err == nil && v != sealed {
			t.Fatalf("opened a value the console did not seal: %q → %+v", v, st)
		}
	})
}

// FuzzOIDCClaims: email_verified is true only for true or "true".
func FuzzOIDCClaims(f *testing.F) {
	for _, s := range []string{`{"email_verified":true}`, `{"email_verified":"true"}`, `{"email_verified":"false"}`, `{"email_verified":1}`, `{"amr":["mfa"]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var c oidcClaims
		if json.Unmarshal([]byte(s), &c) != nil {
			return
		}
		if v := string(c.EmailVerified); c.emailVerified() && v != "true" && v != `"true"` {
			t.Fatalf("email_verified %s read as true", v)
		}
		mfaAMR(c.AMR)
	})
}

// TestDiscoveryCache: a provider's discovery is fetched once and reused;
// a failure is not cached, so the next sign-in asks again; a change of
// the provider drops what was cached.
func TestDiscoveryCache(t *testing.T) {
	f := newFakeIssuer(t)
	s, _ := newService(t, Options{})
	str := func(v string) *string { return &v }
	ip, err := s.CreateIdentityProvider(bg, System, IdentityProviderPatch{Name: str("Fake"), Issuer: str(f.url), ClientID: str("console")})
	if err != nil {
		t.Fatal(err)
	}
	begin := func() error {
		_, _, err := s.OIDCBegin(bg, ip.ID, "http://127.0.0.1/cb", "/")
		return err
	}
	f.down.Store(true)
	if err := begin(); !errors.Is(err, ErrProviderUnavailable) {
		t.Fatalf("provider down: %v", err)
	}
	f.down.Store(false)
	if err := begin(); err != nil {
		t.Fatalf("provider back: %v", err)
	}
	if err := begin(); err != nil || f.hits.Load() != 2 {
		t.Fatalf("cached: %v, %d discoveries, want 2", err, f.hits.Load())
	}
	if _, err := s.UpdateIdentityProvider(bg, System, ip.ID, IdentityProviderPatch{Name: str("Fake 2")}); err != nil {
		t.Fatal(err)
	}
	if err := begin(); err != nil || f.hits.Load() != 3 {
		t.Fatalf("after a change: %v, %d discoveries, want 3", err, f.hits.Load())
	}
}

package ztna

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Issuer is the iss claim of identity assertions.
const Issuer = "gonaut-gateway"

// assertionTTL is how long an identity assertion is valid; assertions are
// cached per flow for half of it.
const assertionTTL = 60 * time.Second

// Claims are the claims of an identity assertion: who is calling, from
// which device, for which resource.
type Claims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience string   `json:"aud"`
	IssuedAt int64    `json:"iat"`
	Expires  int64    `json:"exp"`
	Email    string   `json:"email,omitempty"`
	Groups   []string `json:"groups,omitempty"`
	Device   string   `json:"device,omitempty"`
	MFA      bool     `json:"mfa,omitempty"`
}

type signer struct {
	key  ed25519.PrivateKey
	kid  string
	jwks []byte
	hdr  string

	mu sync.Mutex
	// guarded by mu: assertions by peer and resource
	cache map[tokenKey]cachedToken
}

// tokenKey is everything an assertion says apart from its times, so
// that a changed identity (a group removed, MFA lost) gets a new
// assertion at once instead of the cached one.
type tokenKey struct {
	peer   string
	res    string
	claims string
}

type cachedToken struct {
	tok string
	exp time.Time
}

func newSigner(key ed25519.PrivateKey) (*signer, error) {
	if key == nil {
		var err error
		if _, key, err = ed25519.GenerateKey(rand.Reader); err != nil {
			return nil, fmt.Errorf("ztna: signing key: %w", err)
		}
	}
	pub := key.Public().(ed25519.PublicKey)
	sum := sha256.Sum256(pub)
	s := &signer{key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:8]), cache: map[tokenKey]cachedToken{}}
	s.jwks, _ = json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
		"kid": s.kid, "x": base64.RawURLEncoding.EncodeToString(pub),
	}}})
	h, _ := json.Marshal(map[string]string{"alg": "EdDSA", "typ": "JWT", "kid": s.kid})
	s.hdr = base64.RawURLEncoding.EncodeToString(h)
	return s, nil
}

// token returns a signed assertion for a's identity and resource, reusing
// one issued less than half its lifetime ago.
func (s *signer) token(a *access, now time.Time) (string, error) {
	k := tokenKey{peer: a.id.Device.ID + "\x00" + a.id.Subject.ID, res: a.res.cfg.Name, claims: claimsKey(a)}
	s.mu.Lock()
	if c, ok := s.cache[k]; ok && now.Before(c.exp) {
		s.mu.Unlock()
		return c.tok, nil
	}
	s.mu.Unlock()
	tok, err := s.sign(Claims{
		Issuer: Issuer, Subject: a.id.Subject.ID, Audience: a.res.cfg.Name,
		IssuedAt: now.Unix(), Expires: now.Add(assertionTTL).Unix(),
		Email: a.id.Subject.Email, Groups: a.id.Subject.Groups, Device: a.id.Device.ID, MFA: a.id.Subject.MFA,
	})
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	if len(s.cache) > 10000 {
		clear(s.cache)
	}
	s.cache[k] = cachedToken{tok: tok, exp: now.Add(assertionTTL / 2)}
	s.mu.Unlock()
	return tok, nil
}

// claimsKey encodes the identity claims of a's assertion besides subject
// and device.
func claimsKey(a *access) string {
	b := strconv.AppendQuote(nil, a.id.Subject.Email)
	b = strconv.AppendBool(b, a.id.Subject.MFA)
	for _, g := range a.id.Subject.Groups {
		b = strconv.AppendQuote(b, g)
	}
	return string(b)
}

func (s *signer) sign(c Claims) (string, error) {
	body, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	msg := s.hdr + "." + base64.RawURLEncoding.EncodeToString(body)
	sig := ed25519.Sign(s.key, []byte(msg))
	return msg + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// VerifyAssertion checks an identity assertion against a JWKS document
// (as served at JWKSPath) and returns its claims. It checks the signature,
// the issuer, the audience when aud is not empty, and the expiry at now.
// Upstream apps written in Go can use it; others use any JWT library that
// supports EdDSA.
func VerifyAssertion(jwks []byte, token, aud string, now time.Time) (*Claims, error) {
	var set struct {
		Keys []struct {
			Kty, Crv, Kid, X string
		} `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		return nil, fmt.Errorf("ztna: jwks: %w", err)
	}
	parts := splitToken(token)
	if parts == nil {
		return nil, fmt.Errorf("ztna: assertion: not a JWT")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("ztna: assertion header: %w", err)
	}
	var hdr struct{ Alg, Kid string }
	if err := json.Unmarshal(hb, &hdr); err != nil || hdr.Alg != "EdDSA" {
		return nil, fmt.Errorf("ztna: assertion: want alg EdDSA")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("ztna: assertion signature: %w", err)
	}
	ok := false
	for _, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || (hdr.Kid != "" && k.Kid != hdr.Kid) {
			continue
		}
		pub, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			continue
		}
		if ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
			ok = true
			break
		}
	}
	if !ok {
		return nil, fmt.Errorf("ztna: assertion: bad signature")
	}
	cb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("ztna: assertion claims: %w", err)
	}
	var c Claims
	if err := json.Unmarshal(cb, &c); err != nil {
		return nil, fmt.Errorf("ztna: assertion claims: %w", err)
	}
	switch {
	case c.Issuer != Issuer:
		return nil, fmt.Errorf("ztna: assertion: issuer %q", c.Issuer)
	case aud != "" && c.Audience != aud:
		return nil, fmt.Errorf("ztna: assertion: audience %q", c.Audience)
	case now.Unix() >= c.Expires:
		return nil, fmt.Errorf("ztna: assertion: expired")
	}
	return &c, nil
}

func splitToken(t string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(t); i++ {
		if t[i] == '.' {
			parts = append(parts, t[start:i])
			start = i + 1
		}
	}
	parts = append(parts, t[start:])
	if len(parts) != 3 {
		return nil
	}
	return parts
}

func ipLiteral(a netip.Addr) string {
	if a.Is6() {
		return "[" + a.String() + "]"
	}
	return a.String()
}

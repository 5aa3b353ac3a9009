package domain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// Sign-in with OpenID Connect: the authorization code flow with PKCE
// (S256), a state and a nonce. OIDCBegin makes the provider's URL and
// the secrets the browser must bring back (the transport keeps them in
// a sealed cookie, SealOIDCState); OIDCFinish exchanges the code,
// verifies the ID token (go-oidc: issuer, audience, expiry and the
// signature against the provider's JWKS, refetched on an unknown key),
// checks the nonce and email_verified, finds or makes the user and opens
// a session as a password sign-in does. Discovery is cached per provider
// for oidcDiscoveryTTL and dropped on any failure, so a provider that
// was down or changed is asked again on the next sign-in.

// oidcDiscoveryTTL is how long a provider's discovery document is kept.
const oidcDiscoveryTTL = time.Hour

// oidcTimeout bounds every request to a provider.
const oidcTimeout = 10 * time.Second

// oidcStateLife is how long a begun sign-in may take.
const oidcStateLife = 10 * time.Minute

// oidcCache holds the discovered providers; it is safe for concurrent
// use.
type oidcCache struct {
	mu sync.Mutex
	m  map[string]oidcEntry // by provider id; guarded by mu
}

type oidcEntry struct {
	issuer  string
	p       *oidc.Provider
	fetched time.Time
}

func (c *oidcCache) forget(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}

// OIDCState is what a begun sign-in keeps in the browser until the
// provider sends it back.
type OIDCState struct {
	Tenant   string `json:"t"`
	Provider string `json:"p"`
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"x,omitempty"`
	Expires  int64  `json:"e"`
}

const purposeOIDCState = "oidc state"

// SealOIDCState seals st for the browser to keep: it opens only with
// this console's secret key, so the browser cannot change it.
func (s *Service) SealOIDCState(st OIDCState) string {
	b, _ := json.Marshal(st)
	return s.box.seal(purposeOIDCState, "browser", string(b))
}

// OpenOIDCState opens what SealOIDCState sealed, refusing an expired
// one.
func (s *Service) OpenOIDCState(v string) (OIDCState, error) {
	pt, err := s.box.open(purposeOIDCState, "browser", v)
	if err != nil {
		return OIDCState{}, err
	}
	var st OIDCState
	if err := json.Unmarshal([]byte(pt), &st); err != nil {
		return OIDCState{}, err
	}
	if s.now().Unix() > st.Expires {
		return OIDCState{}, errors.New("the sign-in took too long")
	}
	return st, nil
}

// providerConfig returns the stored provider id with its opened secret
// and its discovered configuration.
func (s *Service) providerConfig(ctx context.Context, id, redirect string) (*store.IdentityProvider, *oidc.Provider, *oauth2.Config, error) {
	sp, err := s.st.IdentityProvider(ctx, id)
	if err != nil {
		return nil, nil, nil, fromStore(err)
	}
	secret := ""
	if sp.ClientSecret != "" {
		if secret, err = s.box.open(purposeOIDCSecret, sp.ID, sp.ClientSecret); err != nil {
			return nil, nil, nil, err
		}
	}
	p, err := s.discover(ctx, sp)
	if err != nil {
		return nil, nil, nil, err
	}
	cfg := &oauth2.Config{ClientID: sp.ClientID, ClientSecret: secret, Endpoint: p.Endpoint(), RedirectURL: redirect, Scopes: strings.Fields(sp.Scopes)}
	return sp, p, cfg, nil
}

func (s *Service) discover(ctx context.Context, sp *store.IdentityProvider) (*oidc.Provider, error) {
	c := &s.oidc
	c.mu.Lock()
	e, ok := c.m[sp.ID]
	c.mu.Unlock()
	if ok && e.issuer == sp.Issuer && s.now().Sub(e.fetched) < oidcDiscoveryTTL {
		return e.p, nil
	}
	// The provider keeps no more of ctx than its HTTP client (none: the
	// default one); its key set is fetched in the background, and every
	// wait for it is bounded by the sign-in's own context.
	dctx, cancel := context.WithTimeout(ctx, oidcTimeout)
	defer cancel()
	p, err := oidc.NewProvider(dctx, sp.Issuer)
	if err != nil {
		s.log.Warn("console: discovering an identity provider", "provider", sp.ID, "issuer", sp.Issuer, "err", err)
		return nil, fmt.Errorf("%w (%s)", ErrProviderUnavailable, sp.Name)
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]oidcEntry{}
	}
	c.m[sp.ID] = oidcEntry{issuer: sp.Issuer, p: p, fetched: s.now()}
	c.mu.Unlock()
	return p, nil
}

// SignInProvider is what the login page shows of a provider.
type SignInProvider struct{ ID, Name string }

// SignInProviders lists the providers the login page offers; it needs
// no actor.
func (s *Service) SignInProviders(ctx context.Context) []SignInProvider {
	ps, err := s.st.ListIdentityProviders(ctx)
	if err != nil {
		return nil
	}
	out := make([]SignInProvider, len(ps))
	for i, p := range ps {
		out[i] = SignInProvider{ID: p.ID, Name: p.Name}
	}
	return out
}

// OIDCBegin starts a sign-in with provider id whose answer comes back
// to redirect: it returns the provider's authorization URL and the state
// the browser keeps (see SealOIDCState).
func (s *Service) OIDCBegin(ctx context.Context, id, redirect, next string) (string, OIDCState, error) {
	_, _, cfg, err := s.providerConfig(ctx, id, redirect)
	if err != nil {
		return "", OIDCState{}, err
	}
	st := OIDCState{Tenant: s.TenantID(), Provider: id, State: RandomToken(), Nonce: RandomToken(), Verifier: oauth2.GenerateVerifier(),
		Next: next, Expires: s.now().Add(oidcStateLife).Unix()}
	u := cfg.AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier))
	return u, st, nil
}

// OIDCCallback is what the provider sent back, with the state the
// browser kept.
type OIDCCallback struct {
	State       OIDCState
	ReturnState string // the state parameter of the callback
	Code        string
	Error       string // the provider's error parameter, if any
	Redirect    string
	Source      string // as in Login
	Replaces    string // as in Login
}

// oidcClaims are the ID token's claims the console reads.
type oidcClaims struct {
	Email         string          `json:"email"`
	EmailVerified json.RawMessage `json:"email_verified"`
	Name          string          `json:"name"`
	AMR           []string        `json:"amr"`
}

// emailVerified reads email_verified, which some providers send as a
// string.
func (c oidcClaims) emailVerified() bool {
	v := strings.Trim(string(c.EmailVerified), `"`)
	return v == "true"
}

// mfaAMR reports whether the authentication methods include a second
// factor (RFC 8176).
func mfaAMR(amr []string) bool {
	return slices.ContainsFunc(amr, func(m string) bool { return m == "mfa" || m == "otp" || m == "hwk" || m == "swk" })
}

// oidcLeeway is how far in the future an ID token's issue time may be:
// the clocks of the console and the provider differ a little.
const oidcLeeway = 5 * time.Minute

// verifyIDToken checks a raw ID token against the provider and the
// client id (go-oidc: signature by a key of the provider's set, with an
// algorithm it announces, never "none"; issuer; audience; expiry), its
// issue time against now, and the nonce, and returns its claims.
func verifyIDToken(ctx context.Context, p *oidc.Provider, clientID, raw, nonce string, now time.Time) (*oidc.IDToken, oidcClaims, error) {
	var c oidcClaims
	tok, err := p.Verifier(&oidc.Config{ClientID: clientID, Now: func() time.Time { return now }}).Verify(ctx, raw)
	if err != nil {
		return nil, c, err
	}
	if tok.IssuedAt.After(now.Add(oidcLeeway)) {
		return nil, c, errors.New("the ID token is issued in the future")
	}
	if tok.Nonce == "" || tok.Nonce != nonce {
		return nil, c, errors.New("the ID token's nonce is not this sign-in's")
	}
	if err := tok.Claims(&c); err != nil {
		return nil, c, err
	}
	return tok, c, nil
}

// OIDCFinish completes a sign-in: every refusal is ErrSSOFailed (or
// ErrProviderUnavailable), recorded as login.failed with its reason.
func (s *Service) OIDCFinish(ctx context.Context, in OIDCCallback) (SignedIn, error) {
	st := in.State
	fail := func(actor, reason string, err error) (SignedIn, error) {
		if actor == "" {
			actor = "anonymous"
		}
		s.record(ctx, Actor{ID: actor}, "login.failed", "", "", map[string]string{"source": in.Source, "reason": reason, "method": "oidc", "provider": st.Provider})
		if err == nil {
			err = ErrSSOFailed
		}
		return SignedIn{}, err
	}
	if st.Tenant != s.TenantID() || st.State == "" || len(in.ReturnState) != len(st.State) || in.ReturnState != st.State {
		return fail("", "state", nil)
	}
	if in.Error != "" {
		return fail("", "provider error: "+bounded(in.Error, 100), nil)
	}
	sp, p, cfg, err := s.providerConfig(ctx, st.Provider, in.Redirect)
	if errors.Is(err, ErrNotFound) {
		return fail("", "unknown provider", nil)
	}
	if err != nil {
		return fail("", "provider unavailable", ErrProviderUnavailable)
	}
	octx, cancel := context.WithTimeout(ctx, oidcTimeout)
	defer cancel()
	tok, err := cfg.Exchange(octx, in.Code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return fail("", "code exchange: "+bounded(re.ErrorCode, 100), nil)
		}
		s.oidc.forget(sp.ID)
		s.log.Warn("console: exchanging an authorization code", "provider", sp.ID, "err", err)
		return fail("", "provider unavailable", ErrProviderUnavailable)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return fail("", "no id token", nil)
	}
	_, claims, err := verifyIDToken(octx, p, sp.ClientID, raw, st.Nonce, s.now())
	if err != nil {
		s.oidc.forget(sp.ID)
		return fail("", "id token: "+bounded(err.Error(), 200), nil)
	}
	email := strings.ToLower(strings.TrimSpace(claims.Email))
	if email == "" {
		return fail("", "no email", nil)
	}
	if !claims.emailVerified() && !sp.TrustEmail {
		return fail(bounded(email, maxAuditedEmail), "email not verified", nil)
	}
	u, err := s.st.UserByEmail(ctx, email)
	switch {
	case errors.Is(err, store.ErrNotFound) && sp.Provisioning == ProvisionJIT:
		if u, err = s.provision(ctx, sp, email, claims.Name); err != nil {
			return fail(bounded(email, maxAuditedEmail), "provisioning: "+bounded(err.Error(), 200), nil)
		}
	case errors.Is(err, store.ErrNotFound):
		return fail(bounded(email, maxAuditedEmail), "not invited", nil)
	case err != nil:
		return SignedIn{}, err
	}
	if u.Disabled {
		return fail(u.ID, "disabled", nil)
	}
	mfa := mfaAMR(claims.AMR)
	return s.openSession(ctx, u, mfa, in.Source, in.Replaces, map[string]any{"mfa": mfa, "source": in.Source, "method": "oidc", "provider": sp.ID})
}

// provision makes the user a ProvisionJIT provider signs in, with a
// random password no one knows.
func (s *Service) provision(ctx context.Context, sp *store.IdentityProvider, email, name string) (*store.User, error) {
	if err := validNewUser(email, "", sp.DefaultRole); err != nil {
		return nil, err
	}
	if validText("name", name, 64, false) != nil {
		name = ""
	}
	u := &store.User{Email: email, Name: name, Role: sp.DefaultRole, PasswordHash: HashPassword(RandomToken())}
	if err := s.st.CreateUser(ctx, u); err != nil {
		return nil, fromStore(err)
	}
	s.record(ctx, Actor{ID: "oidc:" + sp.ID}, "user.create", u.Email, "", map[string]any{"role": u.Role, "provider": sp.ID})
	return u, nil
}

func bounded(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

package domain

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// Identity providers are the OpenID Connect providers a tenant's people
// sign in with (see oidc.go). Admins add, change and remove them; the
// client secret is written only: it is sealed in the store like a TOTP
// secret and never read back out of the domain.

// How a provider's sign-in finds its console user.
const (
	// ProvisionJIT makes a user with the provider's DefaultRole the
	// first time an unknown email signs in.
	ProvisionJIT = "jit"
	// ProvisionInvite signs in only the users that exist already.
	ProvisionInvite = "invite"
)

// DefaultOIDCScopes are what a provider is asked for unless it says
// otherwise.
var DefaultOIDCScopes = []string{"openid", "email", "profile"}

const purposeOIDCSecret = "oidc client secret"

// IdentityProvider is an OpenID Connect provider, without its secret.
type IdentityProvider struct {
	ID           string
	Name         string
	Issuer       string
	ClientID     string
	Scopes       []string
	TrustEmail   bool // accept tokens without email_verified=true
	Provisioning string
	DefaultRole  Role // of the users ProvisionJIT makes
	Created      time.Time
	HasSecret    bool
}

func identityProviderOf(p *store.IdentityProvider) IdentityProvider {
	return IdentityProvider{ID: p.ID, Name: p.Name, Issuer: p.Issuer, ClientID: p.ClientID, Scopes: strings.Fields(p.Scopes),
		TrustEmail: p.TrustEmail, Provisioning: p.Provisioning, DefaultRole: p.DefaultRole, Created: p.Created, HasSecret: p.ClientSecret != ""}
}

// IdentityProviderPatch changes the fields it names (non-nil); to add a
// provider every field but Scopes, TrustEmail and DefaultRole is needed.
type IdentityProviderPatch struct {
	Name, Issuer, ClientID, ClientSecret *string
	Scopes                               *[]string
	TrustEmail                           *bool
	Provisioning                         *string
	DefaultRole                          *Role
}

// validIssuer checks an issuer URL: https, or http on the loopback
// address for tests and development.
func validIssuer(v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return Invalid("issuer", "must be the provider's issuer URL, such as https://login.example.com/realms/acme")
	}
	if u.Scheme != "https" && (u.Scheme != "http" || u.Hostname() != "127.0.0.1") {
		return Invalid("issuer", "must be an https URL (http only on 127.0.0.1, for tests)")
	}
	return nil
}

// apply checks and writes patch onto p.
func (patch IdentityProviderPatch) apply(p *store.IdentityProvider, box *sealer) error {
	if patch.Name != nil {
		p.Name = strings.TrimSpace(*patch.Name)
	}
	if patch.Issuer != nil {
		p.Issuer = strings.TrimSpace(*patch.Issuer)
	}
	if patch.ClientID != nil {
		p.ClientID = strings.TrimSpace(*patch.ClientID)
	}
	if patch.Scopes != nil {
		p.Scopes = strings.Join(*patch.Scopes, " ")
	}
	if patch.TrustEmail != nil {
		p.TrustEmail = *patch.TrustEmail
	}
	if patch.Provisioning != nil {
		p.Provisioning = *patch.Provisioning
	}
	if patch.DefaultRole != nil {
		p.DefaultRole = *patch.DefaultRole
	}
	switch {
	case p.Name == "" || len(p.Name) > 64:
		return Invalid("name", "must be 1 to 64 characters: what the sign-in button says")
	case p.ClientID == "" || len(p.ClientID) > 512:
		return Invalid("client_id", "must be the client id the provider gave the console")
	case p.Provisioning != ProvisionJIT && p.Provisioning != ProvisionInvite:
		return Invalid("provisioning", `must be "jit" (make unknown users) or "invite" (existing users only)`)
	case !p.DefaultRole.Valid():
		return Invalid("default_role", "must be one of "+rolesText())
	}
	if err := validIssuer(p.Issuer); err != nil {
		return err
	}
	scopes := strings.Fields(p.Scopes)
	if len(scopes) == 0 {
		scopes = DefaultOIDCScopes
	}
	if !slices.Contains(scopes, "openid") {
		scopes = append([]string{"openid"}, scopes...)
	}
	for _, sc := range scopes {
		if len(sc) > 64 || strings.ContainsAny(sc, "\"\\") {
			return Invalid("scopes", "each scope is a word of at most 64 characters")
		}
	}
	p.Scopes = strings.Join(scopes, " ")
	if patch.ClientSecret != nil {
		if len(*patch.ClientSecret) > 512 {
			return Invalid("client_secret", "is too long")
		}
		p.ClientSecret = ""
		if *patch.ClientSecret != "" {
			p.ClientSecret = box.seal(purposeOIDCSecret, p.ID, *patch.ClientSecret)
		}
	}
	return nil
}

func rolesText() string {
	out := make([]string, len(Roles))
	for i, r := range Roles {
		out[i] = string(r)
	}
	return strings.Join(out, ", ")
}

// idpDetail is the audit detail of a provider's change: never its secret.
func idpDetail(p *store.IdentityProvider, secretChanged bool) map[string]any {
	return map[string]any{"name": p.Name, "issuer": p.Issuer, "client_id": p.ClientID, "scopes": p.Scopes,
		"trust_email": p.TrustEmail, "provisioning": p.Provisioning, "default_role": p.DefaultRole, "client_secret_changed": secretChanged}
}

// CreateIdentityProvider adds a provider. Unset: Scopes is
// DefaultOIDCScopes, DefaultRole viewer.
func (s *Service) CreateIdentityProvider(ctx context.Context, a Actor, in IdentityProviderPatch) (IdentityProvider, error) {
	p := &store.IdentityProvider{ID: store.NewID("idp"), DefaultRole: RoleViewer, Created: s.now()}
	if in.Provisioning == nil {
		p.Provisioning = ProvisionInvite
	}
	if in.Name == nil || in.Issuer == nil || in.ClientID == nil {
		return IdentityProvider{}, Invalid("", "name, issuer and client_id are needed")
	}
	if err := in.apply(p, s.box); err != nil {
		return IdentityProvider{}, err
	}
	if err := s.st.CreateIdentityProvider(ctx, p); err != nil {
		return IdentityProvider{}, fromStore(err)
	}
	s.record(ctx, a, "identity_provider.create", p.ID, "", idpDetail(p, p.ClientSecret != ""))
	return identityProviderOf(p), nil
}

// IdentityProviders lists the tenant's providers.
func (s *Service) IdentityProviders(ctx context.Context, _ Actor) ([]IdentityProvider, error) {
	ps, err := s.st.ListIdentityProviders(ctx)
	if err != nil {
		return nil, fromStore(err)
	}
	out := make([]IdentityProvider, len(ps))
	for i := range ps {
		out[i] = identityProviderOf(&ps[i])
	}
	return out, nil
}

// IdentityProvider returns one provider.
func (s *Service) IdentityProvider(ctx context.Context, _ Actor, id string) (IdentityProvider, error) {
	p, err := s.st.IdentityProvider(ctx, id)
	if err != nil {
		return IdentityProvider{}, fromStore(err)
	}
	return identityProviderOf(p), nil
}

// UpdateIdentityProvider changes a provider; the sign-ins it has begun
// finish against its new configuration.
func (s *Service) UpdateIdentityProvider(ctx context.Context, a Actor, id string, patch IdentityProviderPatch) (IdentityProvider, error) {
	p, err := s.st.IdentityProvider(ctx, id)
	if err != nil {
		return IdentityProvider{}, fromStore(err)
	}
	if err := patch.apply(p, s.box); err != nil {
		return IdentityProvider{}, err
	}
	if err := s.st.UpdateIdentityProvider(ctx, p); err != nil {
		return IdentityProvider{}, fromStore(err)
	}
	s.oidc.forget(p.ID)
	s.record(ctx, a, "identity_provider.update", p.ID, "", idpDetail(p, patch.ClientSecret != nil))
	return identityProviderOf(p), nil
}

// DeleteIdentityProvider removes a provider; its users stay.
func (s *Service) DeleteIdentityProvider(ctx context.Context, a Actor, id string) error {
	p, err := s.st.IdentityProvider(ctx, id)
	if err != nil {
		return fromStore(err)
	}
	if err := s.st.DeleteIdentityProvider(ctx, id); err != nil {
		return fromStore(err)
	}
	s.oidc.forget(id)
	s.record(ctx, a, "identity_provider.delete", id, "", map[string]any{"name": p.Name, "issuer": p.Issuer})
	return nil
}

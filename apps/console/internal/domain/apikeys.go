package domain

import (
	"context"
	"crypto/subtle"
	"fmt"
	"strings"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// An API key is a bearer secret "gk_<id>.<secret>" with a role. A key
// acts for its owner: it works only while the owner is enabled and holds
// every permission of the key's role (Options.Covers), and never past
// its expiry.

// API keys live DefaultAPIKeyDays unless their creator asks for another
// lifetime, of at most MaxAPIKeyDays.
const (
	DefaultAPIKeyDays = 90
	MaxAPIKeyDays     = 365
)

// APIKey is a key as the console shows it; its secret is never kept.
type APIKey struct {
	ID       string // also the public prefix of the key
	Name     string
	Role     Role
	Owner    string // a user id; "" for the console's own keys
	Created  time.Time
	Expires  time.Time
	LastUsed time.Time
	Revoked  bool
	// Scope narrows Role (see apiscope.go).
	Scope Scope
}

func apiKeyOf(k *store.APIKey) APIKey {
	sc, _ := ParseScope(k.Scope)
	if k.Scope != "" && sc == (Scope{}) {
		// A stored scope that no longer parses narrows to nothing
		// rather than widening to the role.
		sc = Scope{ReadOnly: true, Collection: "\x00"}
	}
	return APIKey{ID: k.ID, Name: k.Name, Role: k.Role, Owner: k.Owner, Created: k.Created, Expires: k.Expires, LastUsed: k.LastUsed, Revoked: k.Revoked, Scope: sc}
}

// NewAPIKey is what a key is made of.
type NewAPIKey struct {
	Name string
	Role Role
	// ExpiresInDays is the key's lifetime: 1 to MaxAPIKeyDays days,
	// DefaultAPIKeyDays when zero.
	ExpiresInDays int
	// Scope narrows Role: "", "read", "<collection>", "read:<collection>".
	Scope string
}

// CreateAPIKey makes a key that acts for the actor: its owner is the
// user asking (or, for a key asking, that key's owner), its role one the
// actor holds every permission of, and it expires no later than a key
// asking does. It returns the key and its bearer secret, shown once.
func (s *Service) CreateAPIKey(ctx context.Context, a Actor, in NewAPIKey) (APIKey, string, error) {
	if strings.TrimSpace(in.Name) == "" {
		return APIKey{}, "", Invalid("name", "give the key a name, e.g. the tool that will use it")
	}
	days := in.ExpiresInDays
	if days == 0 {
		days = DefaultAPIKeyDays
	}
	if days < 1 || days > MaxAPIKeyDays {
		return APIKey{}, "", Invalid("expires_in_days", fmt.Sprintf("must be 1 to %d", MaxAPIKeyDays))
	}
	if !in.Role.Valid() {
		return APIKey{}, "", Invalid("role", fmt.Sprintf("unknown role %q", in.Role))
	}
	if !s.opts.Covers(a.Role, in.Role) {
		return APIKey{}, "", fmt.Errorf("%w: a key cannot have more than its owner's role (%s)", ErrForbidden, a.Role)
	}
	scope, err := ParseScope(in.Scope)
	if err != nil {
		return APIKey{}, "", err
	}
	k := &store.APIKey{Name: in.Name, Role: in.Role, Owner: a.UserID, Expires: s.now().AddDate(0, 0, days), Scope: scope.String()}
	if id, ok := strings.CutPrefix(a.ID, "apikey:"); ok {
		parent, err := s.st.APIKey(ctx, id)
		if err != nil {
			return APIKey{}, "", fromStore(err)
		}
		if k.Expires.After(parent.Expires) {
			k.Expires = parent.Expires
		}
		if ps := apiKeyOf(parent).Scope; !ps.Covers(scope) {
			return APIKey{}, "", fmt.Errorf("%w: a key cannot have a wider scope than the key making it (%q)", ErrForbidden, ps.String())
		}
	}
	secret, err := s.storeAPIKey(ctx, k)
	if err != nil {
		return APIKey{}, "", err
	}
	s.record(ctx, a, "apikey.create", k.Name, "", map[string]any{"role": k.Role, "owner": k.Owner, "expires": k.Expires, "scope": k.Scope})
	return apiKeyOf(k), secret, nil
}

// CreateToolKey makes a key for role, with no owner, that expires after
// DefaultAPIKeyDays, and returns it and its bearer secret. It is for the
// console's own tools; keys made through the API always have an owner.
// It is not audited, as it never was: no person asked for it.
func (s *Service) CreateToolKey(ctx context.Context, name string, role Role) (APIKey, string, error) {
	k := &store.APIKey{Name: name, Role: role, Expires: s.now().AddDate(0, 0, DefaultAPIKeyDays)}
	secret, err := s.storeAPIKey(ctx, k)
	if err != nil {
		return APIKey{}, "", err
	}
	return apiKeyOf(k), secret, nil
}

// storeAPIKey stores k with a fresh secret and returns the bearer secret.
func (s *Service) storeAPIKey(ctx context.Context, k *store.APIKey) (string, error) {
	secret := RandomToken()
	k.Hash = TokenHash(secret)
	if err := s.st.CreateAPIKey(ctx, k); err != nil {
		return "", fromStore(err)
	}
	return s.Credential("gk_" + k.ID + "." + secret), nil
}

// ListAPIKeys returns every key.
func (s *Service) ListAPIKeys(ctx context.Context, _ Actor) ([]APIKey, error) {
	ks, err := s.st.ListAPIKeys(ctx)
	if err != nil {
		return nil, fromStore(err)
	}
	return valuesOf(ks, apiKeyOf), nil
}

// OwnAPIKeys returns the keys the actor owns, the revoked ones last;
// none for an actor who is not a user.
func (s *Service) OwnAPIKeys(ctx context.Context, a Actor) ([]APIKey, error) {
	ks, err := s.ListAPIKeys(ctx, a)
	if err != nil || !a.isUser() {
		return nil, err
	}
	var own, revoked []APIKey
	for _, k := range ks {
		switch {
		case k.Owner != a.UserID:
		case k.Revoked:
			revoked = append(revoked, k)
		default:
			own = append(own, k)
		}
	}
	return append(own, revoked...), nil
}

// RevokeAPIKey revokes the key with id.
func (s *Service) RevokeAPIKey(ctx context.Context, a Actor, id string) error {
	if err := s.st.RevokeAPIKey(ctx, id); err != nil {
		return fromStore(err)
	}
	s.record(ctx, a, "apikey.revoke", id, "", nil)
	return nil
}

// RevokeOwnAPIKey revokes the key with id when the actor owns it
// (ErrNotFound otherwise) and returns it.
func (s *Service) RevokeOwnAPIKey(ctx context.Context, a Actor, id string) (APIKey, error) {
	ks, err := s.OwnAPIKeys(ctx, a)
	if err != nil {
		return APIKey{}, err
	}
	for _, k := range ks {
		if k.ID == id {
			return k, s.RevokeAPIKey(ctx, a, id)
		}
	}
	return APIKey{}, ErrNotFound
}

// errKeyRefused is any key that does not work; which check failed is
// nobody's business.
var errKeyRefused = &UnauthorizedError{Message: "API key refused"}

// APIKeyOf returns the key whose bearer credential, after "gk_", is key
// ("<id>.<secret>"), when it works: not revoked, not expired, and its
// owner (if any) enabled and holding every permission of its role. A key
// that does not work is an *UnauthorizedError.
func (s *Service) APIKeyOf(ctx context.Context, key string) (APIKey, error) {
	id, secret, ok := strings.Cut(key, ".")
	if !ok {
		return APIKey{}, errKeyRefused
	}
	k, err := s.st.APIKey(ctx, id)
	if err != nil || k.Revoked || subtle.ConstantTimeCompare([]byte(k.Hash), []byte(TokenHash(secret))) != 1 {
		return APIKey{}, errKeyRefused
	}
	now := s.now()
	if !now.Before(k.Expires) {
		return APIKey{}, errKeyRefused
	}
	if k.Owner != "" {
		// The key acts for its owner: it stops when they are disabled
		// or removed, or no longer hold every permission of its role.
		u, err := s.st.User(ctx, k.Owner)
		if err != nil || u.Disabled || !s.opts.Covers(u.Role, k.Role) {
			return APIKey{}, errKeyRefused
		}
	}
	if now.Sub(k.LastUsed) > time.Minute {
		s.st.TouchAPIKey(ctx, k.ID, now)
	}
	return apiKeyOf(k), nil
}

// ExpiringKeyWarning is how long before its expiry a key is flagged as
// expiring (on the dashboard and in the key lists).
const ExpiringKeyWarning = 7 * 24 * time.Hour

// ExpiresSoon reports whether k is live at now and expires within
// ExpiringKeyWarning.
func (k APIKey) ExpiresSoon(now time.Time) bool {
	return !k.Revoked && now.Before(k.Expires) && k.Expires.Sub(now) <= ExpiringKeyWarning
}

package domain

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// Gateway is a gateway the console manages: created by a person with a
// one-time registration token, registered by the gateway host with it,
// and from then on authenticated by the credential registration handed
// out. Its hashes never leave the domain.
type Gateway struct {
	ID            string
	Name          string
	TokenExpires  time.Time // when the registration token stops working
	Registered    time.Time // zero until the gateway registered
	Revoked       bool
	LastSeen      time.Time
	BundleVersion int64           // the bundle version it last reported
	Status        json.RawMessage // its last status report, as sent
	Created       time.Time
}

func gatewayOf(g *store.Gateway) Gateway {
	return Gateway{ID: g.ID, Name: g.Name, TokenExpires: g.TokenExpires, Registered: g.Registered, Revoked: g.Revoked,
		LastSeen: g.LastSeen, BundleVersion: g.BundleVersion, Status: g.Status, Created: g.Created}
}

// actor is how audit entries name the gateway.
func (g Gateway) actor() Actor { return Actor{ID: "gateway:" + g.Name} }

// NewGateway is what CreateGateway makes a gateway of.
type NewGateway struct {
	Name string
	// TokenTTL is how long the registration token works. Default
	// (zero): 24 hours.
	TokenTTL time.Duration
}

// defaultTokenTTL is how long a registration token works by default.
const defaultTokenTTL = 24 * time.Hour

// CreateGateway adds a gateway awaiting registration and returns it with
// its one-time registration token, which is shown once: the store keeps
// only its hash.
func (s *Service) CreateGateway(ctx context.Context, a Actor, in NewGateway) (Gateway, string, error) {
	if err := validName("name", in.Name); err != nil {
		return Gateway{}, "", err
	}
	ttl := in.TokenTTL
	if ttl <= 0 {
		ttl = defaultTokenTTL
	}
	tok := "gwt_" + RandomToken()
	g := &store.Gateway{Name: in.Name, TokenHash: TokenHash(tok), TokenExpires: s.now().Add(ttl)}
	if err := s.withinQuota(ctx, quotaGateways, 1, func() error { return fromStore(s.st.CreateGateway(ctx, g)) }); err != nil {
		return Gateway{}, "", err
	}
	s.record(ctx, a, "gateway.create", in.Name, "", nil)
	return gatewayOf(g), s.Credential(tok), nil
}

// ListGateways is every gateway, revoked ones included.
func (s *Service) ListGateways(ctx context.Context) ([]Gateway, error) {
	gs, err := s.st.ListGateways(ctx)
	if err != nil || gs == nil {
		return nil, fromStore(err)
	}
	return valuesOf(gs, gatewayOf), nil
}

// RevokeGateway ends gateway id's credential; its requests are refused
// from now on.
func (s *Service) RevokeGateway(ctx context.Context, a Actor, id string) error {
	if err := s.st.RevokeGateway(ctx, id); err != nil {
		return fromStore(err)
	}
	s.record(ctx, a, "gateway.revoke", id, "", nil)
	return nil
}

// Registration is what a gateway host sends to register.
type Registration struct {
	Token   string // the one-time registration token
	Name    string // the name the gateway reports; the console's name wins
	Version string
}

// RegisterGateway trades a registration token for the gateway's
// credential: its ID and a secret shown once. An unknown, expired or
// used token is an UnauthorizedError.
func (s *Service) RegisterGateway(ctx context.Context, reg Registration) (Gateway, string, error) {
	secret := RandomToken()
	g, err := s.st.RegisterGateway(ctx, TokenHash(reg.Token), TokenHash(secret), s.now())
	if err != nil {
		return Gateway{}, "", fromStore(err)
	}
	gw := gatewayOf(g)
	s.record(ctx, gw.actor(), "gateway.register", g.Name, "", map[string]string{"reported_name": reg.Name, "version": reg.Version})
	return gw, secret, nil
}

// errGatewayRefused is every refused gateway credential alike: whether
// the ID exists is not the caller's to learn.
var errGatewayRefused = &UnauthorizedError{Message: "gateway credential refused"}

// AuthenticateGateway checks a gateway credential, the ID and secret that
// RegisterGateway handed out, and returns the gateway it proves. A
// revoked gateway, an unregistered one and a wrong secret are all
// UnauthorizedError.
func (s *Service) AuthenticateGateway(ctx context.Context, id, secret string) (Gateway, error) {
	g, err := s.st.Gateway(ctx, id)
	if err != nil || g.Revoked || g.SecretHash == "" || subtle.ConstantTimeCompare([]byte(g.SecretHash), []byte(TokenHash(secret))) != 1 {
		return Gateway{}, errGatewayRefused
	}
	return gatewayOf(g), nil
}

// ReportStatus stores gateway g's status report. A report that fails a
// check is an InvalidError and leaves the last good one in place: every
// field the console writes into wg-quick files or shows to people is
// parsed, and a risk report may name only users of the gateway's bundle,
// at most controlplane.MaxRisk of them, with scores in 1..100. known is
// the configuration version the caller last saw (0: unknown), under
// which bundle membership may be remembered.
func (s *Service) ReportStatus(ctx context.Context, g Gateway, st controlplane.Status, known int64) error {
	if err := validateStatus(&st); err != nil {
		return &InvalidError{Message: err.Error()}
	}
	if err := checkRisk(ctx, s.bundleMembers(known), st.Risk); err != nil {
		if !errors.Is(err, errOutsideBundle) && !errors.Is(err, errBadRisk) {
			return fromStore(err)
		}
		return &InvalidError{Message: err.Error()}
	}
	data, _ := json.Marshal(st)
	if err := s.st.UpdateGatewayStatus(ctx, g.ID, s.now(), st.BundleVersion, data); err != nil {
		return fromStore(err)
	}
	return nil
}

// GatewayReport is the status of the registered gateway seen most
// recently that reported its WireGuard public key, and that gateway's
// name; zero if none did. Enrolment fills in from it what the WireGuard
// settings leave empty.
func (s *Service) GatewayReport(ctx context.Context) (controlplane.Status, string) {
	gs, err := s.st.ListGateways(ctx)
	if err != nil {
		return controlplane.Status{}, ""
	}
	var best controlplane.Status
	var name string
	var seen time.Time
	for _, g := range gs {
		var st controlplane.Status
		if g.Revoked || len(g.Status) == 0 || json.Unmarshal(g.Status, &st) != nil || st.PublicKey == "" || validateStatus(&st) != nil {
			continue
		}
		if g.LastSeen.After(seen) {
			best, name, seen = st, g.Name, g.LastSeen
		}
	}
	return best, name
}

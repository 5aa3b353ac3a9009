package server

import (
	"context"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// What the running console does for the console binary's own demo and
// bootstrap, without a request: the domain's operations acted by
// domain.System, followed by the change notice live pages and gateways
// wait on. Commands that do not serve call the domain directly.

// AddUser creates a user with a password, for the console binary's
// bootstrap and demo commands.
func (s *Server) AddUser(ctx context.Context, email, name string, role domain.Role, groups []string, password string) (domain.User, error) {
	u, err := s.plat.Default().CreateUser(ctx, domain.System, domain.NewUser{Email: email, Name: name, Role: role, Groups: groups, Password: password})
	if err != nil {
		return domain.User{}, err
	}
	s.changed(domain.DefaultTenant)
	return u, nil
}

// AddGateway creates a gateway awaiting registration and returns its
// one-time token, valid for ttl, for the console binary's commands.
func (s *Server) AddGateway(ctx context.Context, name string, ttl time.Duration) (domain.Gateway, string, error) {
	return s.plat.Default().CreateGateway(ctx, domain.System, domain.NewGateway{Name: name, TokenTTL: ttl})
}

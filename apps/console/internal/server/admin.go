package server

import (
	"context"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// AddUser creates a user with a password, for the console binary's
// bootstrap and demo commands.
func (s *Server) AddUser(ctx context.Context, email, name string, role store.Role, groups []string, password string) (*store.User, error) {
	u := &store.User{Email: email, Name: name, Role: role, Groups: groups, PasswordHash: HashPassword(password)}
	if err := s.st.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	s.audit(ctx, "system", "user.create", email, "", map[string]any{"role": role})
	s.changed()
	return u, nil
}

// AddGateway creates a gateway awaiting registration and returns its
// one-time token, valid for ttl.
func (s *Server) AddGateway(ctx context.Context, name string, ttl time.Duration) (*store.Gateway, string, error) {
	tok := "gwt_" + randomToken()
	g := &store.Gateway{Name: name, TokenHash: tokenHash(tok), TokenExpires: s.now().Add(ttl)}
	if err := s.st.CreateGateway(ctx, g); err != nil {
		return nil, "", err
	}
	s.audit(ctx, "system", "gateway.create", name, "", nil)
	return g, tok, nil
}

// RandomPassword returns a fresh password for generated accounts.
func RandomPassword() string { return randomToken()[:20] }

package server

import (
	"context"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// What the console binary does at its host, without a request: the
// bootstrap and demo commands, and the MFA reset. The users' part are
// the domain's operations, acted by domain.System.

// AddUser creates a user with a password, for the console binary's
// bootstrap and demo commands.
func (s *Server) AddUser(ctx context.Context, email, name string, role domain.Role, groups []string, password string) (domain.User, error) {
	u, err := s.dom.CreateUser(ctx, domain.System, domain.NewUser{Email: email, Name: name, Role: role, Groups: groups, Password: password})
	if err != nil {
		return domain.User{}, err
	}
	s.changed()
	return u, nil
}

// AddGateway creates a gateway awaiting registration and returns its
// one-time token, valid for ttl, for the console binary's commands.
func (s *Server) AddGateway(ctx context.Context, name string, ttl time.Duration) (domain.Gateway, string, error) {
	return s.dom.CreateGateway(ctx, domain.System, domain.NewGateway{Name: name, TokenTTL: ttl})
}

// ResetMFA turns the second factor of the user with this email off and
// ends the user's sessions (domain.Service.ResetMFA).
func (s *Server) ResetMFA(ctx context.Context, email string) error {
	return s.dom.ResetMFA(ctx, domain.System, email)
}

// ResetAllMFA turns off the second factor of every user who has one and
// returns how many there were.
func (s *Server) ResetAllMFA(ctx context.Context) (int, error) {
	return s.dom.ResetAllMFA(ctx, domain.System)
}

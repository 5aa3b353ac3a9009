package server

import (
	"context"
	"fmt"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// AddUser creates a user with a password, for the console binary's
// bootstrap and demo commands.
func (s *Server) AddUser(ctx context.Context, email, name string, role domain.Role, groups []string, password string) (*store.User, error) {
	u := &store.User{Email: email, Name: name, Role: role, Groups: groups, PasswordHash: HashPassword(password)}
	if err := s.st.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	s.audit(ctx, "system", "user.create", email, "", map[string]any{"role": role})
	s.changed()
	return u, nil
}

// systemActor is the console binary acting at its host (bootstrap and
// demo commands): an admin named "system" in the audit log.
var systemActor = domain.Actor{ID: "system", Role: domain.RoleAdmin}

// AddGateway creates a gateway awaiting registration and returns its
// one-time token, valid for ttl, for the console binary's commands.
func (s *Server) AddGateway(ctx context.Context, name string, ttl time.Duration) (domain.Gateway, string, error) {
	return s.dom.CreateGateway(ctx, systemActor, domain.NewGateway{Name: name, TokenTTL: ttl})
}

// RandomPassword returns a fresh password for generated accounts.
func RandomPassword() string { return randomToken()[:20] }

// ResetMFA turns the second factor of the user with this email off and
// ends the user's sessions, for an operator at the console's host: a user
// who lost both authenticator and recovery codes, or a database whose
// secret key is lost (ResetAllMFA). It needs no secret key.
func (s *Server) ResetMFA(ctx context.Context, email string) error {
	u, err := s.st.UserByEmail(ctx, email)
	if err != nil {
		return fmt.Errorf("console: user %s: %w", email, err)
	}
	return s.resetMFA(ctx, u)
}

// ResetAllMFA turns off the second factor of every user who has one and
// returns how many there were.
func (s *Server) ResetAllMFA(ctx context.Context) (int, error) {
	n, after := 0, ""
	for {
		us, err := s.st.ListUsers(ctx, store.ListOptions{After: after, Limit: 1000})
		if err != nil {
			return n, err
		}
		for i := range us {
			if us[i].TOTPEnabled || us[i].TOTPSecret != "" {
				if err := s.resetMFA(ctx, &us[i]); err != nil {
					return n, err
				}
				n++
			}
		}
		if len(us) < 1000 {
			return n, nil
		}
		after = us[len(us)-1].ID
	}
}

func (s *Server) resetMFA(ctx context.Context, u *store.User) error {
	if err := s.st.DisableTOTP(ctx, u.ID); err != nil {
		return err
	}
	if err := s.st.DeleteUserSessions(ctx, u.ID); err != nil {
		return err
	}
	s.audit(ctx, "system", "mfa.reset", u.Email, "", nil)
	return nil
}

package server

import (
	"context"
	"net/http"
)

// Self-service password change: a signed-in user replaces their own
// password by giving the current one. Every other session of the user
// ends, so a session stolen before the change does not outlive it.

const (
	minPasswordLen = 12
	// maxPasswordLen bounds the argon2 input a request can make the
	// console hash.
	maxPasswordLen = 1024
)

type passwordChange struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (s *Server) apiChangePassword(w http.ResponseWriter, r *http.Request, p *principal) {
	var req passwordChange
	if !decode(w, r, &req) {
		return
	}
	if err := s.changePassword(r.Context(), p, req.CurrentPassword, req.NewPassword); err != nil {
		s.credentialError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// changePassword sets the user's password to next once current is
// their password now, and ends the user's other sessions.
func (s *Server) changePassword(ctx context.Context, p *principal, current, next string) error {
	if p.user == nil {
		return errString("passwords belong to user accounts; an API key has none")
	}
	if len(next) < minPasswordLen || len(next) > maxPasswordLen {
		return errString("the new password must have 12 to 1024 characters")
	}
	if !s.reauth.allow(p.user.ID, s.now()) {
		return errThrottled
	}
	u, err := s.st.User(ctx, p.user.ID)
	if err != nil {
		return err
	}
	if !CheckPassword(u.PasswordHash, current) {
		s.audit(ctx, u.ID, "password.change.failed", "", "", nil)
		return errReauth
	}
	if err := s.st.SetPasswordHash(ctx, u.ID, HashPassword(next)); err != nil {
		return err
	}
	keep := ""
	if p.session != nil {
		keep = p.session.ID
	}
	if err := s.st.DeleteOtherSessions(ctx, u.ID, keep); err != nil {
		return err
	}
	s.audit(ctx, u.ID, "password.change", "", "", nil)
	return nil
}

package domain

import "context"

// Self-service password change: a signed-in user replaces her own
// password by giving the current one. Every other session of hers ends,
// so a session stolen before the change does not outlive it.

// ChangePassword sets the actor's password to next once current is her
// password now, and ends her sessions other than keep (the session
// asking; "" ends them all).
func (s *Service) ChangePassword(ctx context.Context, a Actor, current, next, keep string) error {
	if !a.isUser() {
		return Invalid("", "passwords belong to user accounts; an API key has none")
	}
	if len(next) < MinPasswordLen || len(next) > MaxPasswordLen {
		return Invalid("", "the new password must have 12 to 1024 characters")
	}
	if !s.opts.Reauth(a.UserID) {
		return ErrThrottled
	}
	u, err := s.st.User(ctx, a.UserID)
	if err != nil {
		return fromStore(err)
	}
	if !CheckPassword(u.PasswordHash, current) {
		s.record(ctx, Actor{ID: u.ID}, "password.change.failed", "", "", nil)
		return ErrReauth
	}
	if err := s.st.SetPasswordHash(ctx, u.ID, HashPassword(next)); err != nil {
		return fromStore(err)
	}
	if err := s.st.DeleteOtherSessions(ctx, u.ID, keep); err != nil {
		return fromStore(err)
	}
	s.record(ctx, Actor{ID: u.ID}, "password.change", "", "", nil)
	return nil
}

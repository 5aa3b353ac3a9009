package domain

import (
	"context"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// ChangeRole gives the user who (an id or an email) role, and returns
// her as changed. It refuses to demote the last
// enabled admin, which would lock everyone out of administration. Every
// request reads the user's role afresh, so her open sessions follow the
// change at once and need not end.
func (s *Service) ChangeRole(ctx context.Context, a Actor, who string, role Role) (User, error) {
	if !role.Valid() {
		return User{}, Invalid("role", "unknown role")
	}
	u, err := s.st.User(ctx, who)
	if err != nil {
		if u, err = s.st.UserByEmail(ctx, who); err != nil {
			return User{}, ErrNotFound
		}
	}
	if u.Role == RoleAdmin && role != RoleAdmin && !u.Disabled {
		admins, err := s.enabledAdmins(ctx)
		if err != nil {
			return User{}, fromStore(err)
		}
		if admins <= 1 {
			return User{}, &ConflictError{Code: "conflict", Field: "role", Message: u.Email + " is the last admin; make someone else admin first"}
		}
	}
	old := u.Role
	if u, err = s.updateUser(ctx, u.ID, func(u *store.User) (bool, error) {
		u.Role = role
		return true, nil
	}); err != nil {
		return User{}, err
	}
	s.record(ctx, a, "user.role", u.Email, "", map[string]string{"from": string(old), "to": string(role)})
	return userOf(u), nil
}

// enabledAdmins counts the enabled admins.
func (s *Service) enabledAdmins(ctx context.Context) (int, error) {
	n, after := 0, ""
	for {
		us, err := s.st.ListUsers(ctx, store.ListOptions{After: after, Limit: 1000})
		if err != nil {
			return n, err
		}
		for _, x := range us {
			if x.Role == RoleAdmin && !x.Disabled {
				n++
			}
		}
		if len(us) < 1000 {
			return n, nil
		}
		after = us[len(us)-1].ID
	}
}

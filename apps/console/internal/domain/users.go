package domain

import (
	"context"
	"errors"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// User is a person who signs in to the console and whom policies name
// as a subject. Her credentials (password hash, second factor) never
// leave this package.
type User struct {
	ID          string
	Email       string
	Name        string
	Role        Role
	Groups      []string
	TOTPEnabled bool
	Disabled    bool
	Created     time.Time
	// Version moves on with every change of the user.
	Version int64
}

func userOf(u *store.User) User {
	return User{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Groups: u.Groups, TOTPEnabled: u.TOTPEnabled,
		Disabled: u.Disabled, Created: u.Created, Version: u.Version}
}

func usersOf(us []store.User) []User {
	return valuesOf(us, userOf)
}

// System is the actor of the console binary's own commands (bootstrap,
// demo, MFA reset at the host).
var System = Actor{ID: "system", Role: RoleAdmin}

// NewUser is what a user is made of.
type NewUser struct {
	Email  string
	Name   string // may be empty: the email then stands for the person
	Role   Role
	Groups []string
	// Password is her first password, MinPasswordLen characters or more.
	Password string
}

// CreateUser adds a user. It is the one way users are made: by the REST
// API, the users page and the console binary's bootstrap and demo.
func (s *Service) CreateUser(ctx context.Context, a Actor, in NewUser) (User, error) {
	if len(in.Password) < MinPasswordLen {
		return User{}, Invalid("password", "must have at least 12 characters")
	}
	if err := validNewUser(in.Email, in.Name, in.Role); err != nil {
		return User{}, err
	}
	u := &store.User{Email: in.Email, Name: in.Name, Role: in.Role, Groups: in.Groups, PasswordHash: HashPassword(in.Password)}
	if err := s.st.CreateUser(ctx, u); err != nil {
		return User{}, fromStore(err)
	}
	s.record(ctx, a, "user.create", u.Email, "", map[string]any{"role": u.Role})
	return userOf(u), nil
}

// ListUsers returns a page of users in id order.
func (s *Service) ListUsers(ctx context.Context, _ Actor, o ListOptions) ([]User, error) {
	us, err := s.st.ListUsers(ctx, o)
	if err != nil {
		return nil, fromStore(err)
	}
	return usersOf(us), nil
}

// User returns the user with id.
func (s *Service) User(ctx context.Context, _ Actor, id string) (User, error) {
	u, err := s.st.User(ctx, id)
	if err != nil {
		return User{}, fromStore(err)
	}
	return userOf(u), nil
}

// UserPatch changes the fields it names (non-nil) of a user.
type UserPatch struct {
	Name     *string
	Role     *Role
	Groups   *[]string
	Disabled *bool
	Password *string
	// Unlock ends the sign-in backoff of the user from every source.
	Unlock bool
}

// userUpdateDetail is the audit detail of user.update: the patch as
// asked, the password only as "(changed)".
type userUpdateDetail struct {
	Name     *string   `json:"name"`
	Role     *Role     `json:"role"`
	Groups   *[]string `json:"groups"`
	Disabled *bool     `json:"disabled"`
	Password *string   `json:"password"`
	Unlock   bool      `json:"unlock"`
}

// UpdateUser applies patch to the user with id, on her newest row. A
// user who is disabled or whose password is set loses her sessions.
func (s *Service) UpdateUser(ctx context.Context, a Actor, id string, patch UserPatch) (User, error) {
	if patch.Password != nil && len(*patch.Password) < MinPasswordLen {
		return User{}, Invalid("password", "must have at least 12 characters")
	}
	if patch.Name != nil {
		if err := validPersonName(*patch.Name); err != nil {
			return User{}, err
		}
	}
	if patch.Role != nil {
		if err := validRole(*patch.Role); err != nil {
			return User{}, err
		}
	}
	var hash string
	if patch.Password != nil {
		hash = HashPassword(*patch.Password)
	}
	// Only the fields the patch names change, on the newest row.
	u, err := s.updateUser(ctx, id, func(u *store.User) (bool, error) {
		if patch.Name != nil {
			u.Name = *patch.Name
		}
		if patch.Role != nil {
			u.Role = *patch.Role
		}
		if patch.Groups != nil {
			u.Groups = *patch.Groups
		}
		if patch.Disabled != nil {
			u.Disabled = *patch.Disabled
		}
		if patch.Password != nil {
			u.PasswordHash = hash
		}
		return true, nil
	})
	if err != nil {
		return User{}, err
	}
	if patch.Unlock {
		// The login backoff of every source ends.
		if err := s.st.ClearLoginFailures(ctx, u.ID, ""); err != nil {
			return User{}, fromStore(err)
		}
	}
	if u.Disabled || patch.Password != nil {
		s.st.DeleteUserSessions(ctx, u.ID)
	}
	// The audit log records that the password changed, never the password.
	d := userUpdateDetail(patch)
	if d.Password != nil {
		d.Password = new("(changed)")
	}
	s.record(ctx, a, "user.update", u.Email, "", d)
	return userOf(u), nil
}

// userUpdateTries bounds how often updateUser re-reads a user that keeps
// changing under it.
const userUpdateTries = 5

// updateUser applies change to a fresh read of the user with id and
// saves it with compare-and-swap on the row version. When the row
// changed between the read and the write (a login consumed a recovery
// code, another admin edited it) it reads again and re-applies change,
// so change's edits land on the newest row and never put back stale
// fields; after userUpdateTries it gives up with ErrStale. change may be
// called more than once and must only edit u; an error from it is
// returned as is, with nothing saved. A change that reports changed
// false saves nothing. Store errors come back in the vocabulary.
func (s *Service) updateUser(ctx context.Context, id string, change func(u *store.User) (changed bool, err error)) (*store.User, error) {
	for range userUpdateTries {
		u, err := s.st.User(ctx, id)
		if err != nil {
			return nil, fromStore(err)
		}
		changed, err := change(u)
		switch {
		case err != nil:
			return nil, err
		case !changed:
			return u, nil
		}
		switch err := s.st.UpdateUser(ctx, u); {
		case err == nil:
			return u, nil
		case !errors.Is(err, store.ErrStale):
			return nil, fromStore(err)
		}
	}
	return nil, ErrStale
}

// initUsers fills in the defaults of the users' options and makes the
// sealer of TOTP secrets.
func (s *Service) initUsers() error {
	o := &s.opts
	if o.SessionIdle <= 0 {
		o.SessionIdle = 30 * time.Minute
	}
	if o.SessionMax <= 0 {
		o.SessionMax = 12 * time.Hour
	}
	if o.BackoffAfter <= 0 {
		o.BackoffAfter = 5
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 15 * time.Minute
	}
	if o.Reauth == nil {
		o.Reauth = func(string) bool { return true }
	}
	if o.Covers == nil {
		o.Covers = func(holder, role Role) bool { return holder == role }
	}
	key := o.SecretKey
	if len(key) == 0 {
		key, s.ephemeralKey = randomBytes(SecretKeySize), true
	}
	var err error
	s.box, err = newSealer(key)
	return err
}

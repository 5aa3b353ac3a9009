package server

import (
	"context"
	"errors"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// userUpdateTries bounds how often updateUser re-reads a user that keeps
// changing under it.
const userUpdateTries = 5

// updateUser is group membership's read-modify-write of a user
// (groups.go), its last caller here; every other change of a user is
// the domain's, with the domain's copy of this loop.
//
// updateUser applies change to a fresh read of the user with id and
// saves it with compare-and-swap on the row
// version. When the row changed between the read and the write (a login
// consumed a recovery code, another admin edited it) it reads again and
// re-applies change, so change's edits land on the newest row and never
// put back stale fields; after userUpdateTries it gives up with
// store.ErrStale (409). change may be called more than once and must
// only edit u; an error from it is returned as is, with nothing saved.
// A change that reports changed false saves nothing.
func (s *Server) updateUser(ctx context.Context, id string, change func(u *store.User) (changed bool, err error)) (*store.User, error) {
	for range userUpdateTries {
		u, err := s.st.User(ctx, id)
		if err != nil {
			return nil, err
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
			return nil, err
		}
	}
	return nil, store.ErrStale
}

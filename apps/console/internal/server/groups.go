package server

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// A group's members are the users whose groups list names it: policies
// see that list as subject.groups. A group may be named by users without
// being defined (created by the API or a form); such groups are listed
// too, marked as undefined, so that nobody's membership is hidden.

// GroupDetail is a group with its members.
type GroupDetail struct {
	store.Group
	// Defined is false for a name users carry that no group defines.
	Defined bool         `json:"defined"`
	Members []store.User `json:"members"`
}

// groupDetails returns every group, defined or named by a user, with its
// members, sorted by name.
func (s *Server) groupDetails(ctx context.Context) ([]GroupDetail, error) {
	gs, err := s.st.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]*GroupDetail{}
	for _, g := range gs {
		byName[g.Name] = &GroupDetail{Group: g, Defined: true, Members: []store.User{}}
	}
	if err := eachPage(func(after string) (string, int, error) {
		us, err := s.st.ListUsers(ctx, store.ListOptions{After: after, Limit: 1000})
		for _, u := range us {
			for _, g := range u.Groups {
				d := byName[g]
				if d == nil {
					d = &GroupDetail{Group: store.Group{Name: g}, Members: []store.User{}}
					byName[g] = d
				}
				d.Members = append(d.Members, u)
			}
		}
		return lastKey(len(us), func() string { return us[len(us)-1].ID }), len(us), err
	}); err != nil {
		return nil, err
	}
	out := make([]GroupDetail, 0, len(byName))
	for _, d := range byName {
		sort.Slice(d.Members, func(i, j int) bool { return d.Members[i].Email < d.Members[j].Email })
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *Server) apiGetGroup(w http.ResponseWriter, r *http.Request, _ *principal) {
	ds, err := s.groupDetails(r.Context())
	if err != nil {
		s.storeError(w, err)
		return
	}
	for _, d := range ds {
		if d.Name == r.PathValue("name") {
			writeJSON(w, http.StatusOK, d)
			return
		}
	}
	writeError(w, http.StatusNotFound, "not_found", "no group %q", r.PathValue("name"))
}

// setMember adds the user with id (or email) to group, or removes them.
func (s *Server) setMember(ctx context.Context, group, user string, member bool, p *principal) (*store.User, error) {
	group = strings.TrimSpace(group)
	if group == "" {
		return nil, errInvalid("a group needs a name")
	}
	u, err := s.st.User(ctx, user)
	if err != nil {
		if u, err = s.st.UserByEmail(ctx, user); err != nil {
			return nil, err
		}
	}
	changed := false
	u, err = s.updateUser(ctx, u.ID, func(u *store.User) (bool, error) {
		has := slices.Contains(u.Groups, group)
		switch {
		case member && !has:
			u.Groups = append(u.Groups, group)
		case !member && has:
			u.Groups = slices.DeleteFunc(u.Groups, func(g string) bool { return g == group })
		default:
			changed = false
			return false, nil
		}
		changed = true
		return true, nil
	})
	if err != nil || !changed {
		return u, err
	}
	action := "group.member.add"
	if !member {
		action = "group.member.remove"
	}
	s.audit(ctx, p.actor(), action, group, "", map[string]string{"user": u.Email})
	s.changed()
	return u, nil
}

func (s *Server) apiPutMember(w http.ResponseWriter, r *http.Request, p *principal) {
	u, err := s.setMember(r.Context(), r.PathValue("name"), r.PathValue("user"), true, p)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) apiDeleteMember(w http.ResponseWriter, r *http.Request, p *principal) {
	u, err := s.setMember(r.Context(), r.PathValue("name"), r.PathValue("user"), false, p)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func errInvalid(msg string) error { return &invalidError{msg} }

type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }
func (e *invalidError) Unwrap() error { return store.ErrInvalid }

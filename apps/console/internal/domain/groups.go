package domain

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// A group's members are the users whose groups list names it: policies
// see that list as subject.groups. A group may be named by users without
// being defined (created by the API or a form); such groups are listed
// too, marked as undefined, so that nobody's membership is hidden.

// Group is a named set of users.
type Group struct {
	Name        string
	Description string
}

// GroupDetail is a group with its members.
type GroupDetail struct {
	Group
	// Defined is false for a name users carry that no group defines.
	Defined bool
	Members []User
}

// ListGroups returns the defined groups, by name.
func (s *Service) ListGroups(ctx context.Context, _ Actor) ([]Group, error) {
	gs, err := s.st.ListGroups(ctx)
	if err != nil {
		return nil, fromStore(err)
	}
	out := make([]Group, len(gs))
	for i, g := range gs {
		out[i] = Group{Name: g.Name, Description: g.Description}
	}
	return out, nil
}

// validGroupName reports whether s may name a group: 1 to 64 letters,
// digits, dots, dashes and underscores.
func validGroupName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// PutGroup defines a group or changes its description.
func (s *Service) PutGroup(ctx context.Context, a Actor, g Group) (*Group, error) {
	if !validGroupName(g.Name) {
		return nil, &InvalidError{Field: "name", Message: "a group name is letters, digits, dot, dash and underscore"}
	}
	if fe := validDescription("description", g.Description); fe != nil {
		return nil, fe
	}
	if err := s.st.PutGroup(ctx, store.Group{Name: g.Name, Description: g.Description}); err != nil {
		return nil, fromStore(err)
	}
	s.record(ctx, a, "group.put", g.Name, "", nil)
	return &g, nil
}

// DeleteGroup removes a group's definition; users keep the name in
// their lists.
func (s *Service) DeleteGroup(ctx context.Context, a Actor, name string) error {
	if err := s.st.DeleteGroup(ctx, name); err != nil {
		return fromStore(err)
	}
	s.record(ctx, a, "group.delete", name, "", nil)
	return nil
}

// GroupDetails returns every group, defined or named by a user, with
// its members sorted by email, sorted by name.
func (s *Service) GroupDetails(ctx context.Context, _ Actor) ([]GroupDetail, error) {
	gs, err := s.st.ListGroups(ctx)
	if err != nil {
		return nil, fromStore(err)
	}
	byName := map[string]*GroupDetail{}
	for _, g := range gs {
		byName[g.Name] = &GroupDetail{Group: Group{Name: g.Name, Description: g.Description}, Defined: true, Members: []User{}}
	}
	if err := eachPage(func(after string) (string, int, error) {
		us, err := s.st.ListUsers(ctx, ListOptions{After: after, Limit: listPage})
		for i := range us {
			for _, g := range us[i].Groups {
				d := byName[g]
				if d == nil {
					d = &GroupDetail{Group: Group{Name: g}, Members: []User{}}
					byName[g] = d
				}
				d.Members = append(d.Members, userOf(&us[i]))
			}
		}
		return lastKey(len(us), func() string { return us[len(us)-1].ID }), len(us), err
	}); err != nil {
		return nil, fromStore(err)
	}
	out := make([]GroupDetail, 0, len(byName))
	for _, d := range byName {
		sort.Slice(d.Members, func(i, j int) bool { return d.Members[i].Email < d.Members[j].Email })
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// GroupDetail returns the group called name, defined or named by a
// user, with its members.
func (s *Service) GroupDetail(ctx context.Context, a Actor, name string) (*GroupDetail, error) {
	ds, err := s.GroupDetails(ctx, a)
	if err != nil {
		return nil, err
	}
	for i := range ds {
		if ds[i].Name == name {
			return &ds[i], nil
		}
	}
	return nil, ErrNotFound
}

// SetMember adds the user with id or email user to group, or removes
// her, and returns her as she is now. A change that changes nothing is
// not recorded.
func (s *Service) SetMember(ctx context.Context, a Actor, group, user string, member bool) (*User, error) {
	group = strings.TrimSpace(group)
	if group == "" {
		return nil, &InvalidError{Message: "a group needs a name"}
	}
	u, err := s.st.User(ctx, user)
	if err != nil {
		if u, err = s.st.UserByEmail(ctx, user); err != nil {
			return nil, fromStore(err)
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
	if err != nil {
		return nil, err
	}
	if changed {
		action := "group.member.add"
		if !member {
			action = "group.member.remove"
		}
		s.record(ctx, a, action, group, "", map[string]string{"user": u.Email})
	}
	m := userOf(u)
	return &m, nil
}

// RoleHolders returns, for each role, the users who hold it, in the
// order of their ids.
func (s *Service) RoleHolders(ctx context.Context, _ Actor) (map[Role][]User, error) {
	out := map[Role][]User{}
	err := eachPage(func(after string) (string, int, error) {
		us, err := s.st.ListUsers(ctx, ListOptions{After: after, Limit: listPage})
		for i := range us {
			out[us[i].Role] = append(out[us[i].Role], userOf(&us[i]))
		}
		return lastKey(len(us), func() string { return us[len(us)-1].ID }), len(us), err
	})
	if err != nil {
		return nil, fromStore(err)
	}
	return out, nil
}

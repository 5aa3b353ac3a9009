package domain

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// IP allowlists: each tenant may bound where its console pages (and
// sign-in) and its REST API are used from, for everyone or per role.
// A request from elsewhere is refused with a record in the audit log.
// The client address is the one the transport decides with the
// trusted_proxies setting.
//
// A list is entries separated by commas or spaces; an entry is a CIDR
// prefix or an address, for every role, or "<role>:" and one, for that
// role alone. A role is bound when some entry applies to it, and then
// only from the entries that do; a role no entry applies to is not
// bound, and an empty list binds nobody. So "10.0.0.0/8" keeps
// everybody inside 10/8, and "admin:192.0.2.7" keeps admins to one
// address and leaves the other roles free.
//
// A change that would refuse the admin making it, from where she makes
// it, is refused (Code "lockout"): she changes it from an address the
// new list allows, or adds her own first.

// The allowlist settings.
const (
	SettingConsoleAllowlist = "console.allowlist"
	SettingAPIAllowlist     = "api.allowlist"
)

// An AllowList is a parsed allowlist setting.
type AllowList []allowEntry

type allowEntry struct {
	role   Role // "": every role
	prefix netip.Prefix
}

// ParseAllowList parses an allowlist setting of key.
func ParseAllowList(key, v string) (AllowList, error) {
	var out AllowList
	for _, f := range listFields(v) {
		var e allowEntry
		if r, rest, ok := strings.Cut(f, ":"); ok && !strings.Contains(r, ".") && slices.Contains(Roles, Role(r)) {
			e.role, f = Role(r), rest
		} else if ok && !strings.Contains(f, "::") && strings.Count(f, ":") == 1 {
			return nil, fmt.Errorf("console: %s: %q does not name a role (%s)", key, r, joinRoles())
		}
		p, err := parsePrefix(key, f)
		if err != nil {
			return nil, err
		}
		e.prefix = p
		out = append(out, e)
	}
	return out, nil
}

func joinRoles() string {
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// Allows reports whether role may come from addr.
func (l AllowList) Allows(role Role, addr netip.Addr) bool {
	bound := false
	addr = addr.Unmap()
	for _, e := range l {
		if e.role != "" && e.role != role {
			continue
		}
		bound = true
		if addr.IsValid() && e.prefix.Contains(addr) {
			return true
		}
	}
	return !bound
}

// AllowsAnyRole reports whether some role may come from addr: what a
// sign-in is checked against before it is known whose it is.
func (l AllowList) AllowsAnyRole(addr netip.Addr) bool {
	return slices.ContainsFunc(Roles, func(r Role) bool { return l.Allows(r, addr) })
}

// AllowList is the tenant's allowlist of key; a stored value that no
// longer parses binds nobody to nowhere: it refuses everyone, since a
// list someone meant to bound access with must not open it.
func (s *Service) AllowList(ctx context.Context, key string) AllowList {
	v := s.Setting(ctx, key, "")
	if v == "" {
		return nil
	}
	l, err := ParseAllowList(key, v)
	if err != nil {
		s.log.Error("console: an allowlist does not parse; refusing every address", "key", key, "err", err)
		return AllowList{{prefix: netip.Prefix{}}}
	}
	return l
}

// RefuseAddress records a request refused by the allowlist of key.
func (s *Service) RefuseAddress(ctx context.Context, a Actor, key, path string) {
	s.record(ctx, a, "access.address_refused", path, "deny", map[string]string{"address": a.Addr.String(), "allowlist": key})
}

// allowListGuard refuses a new allowlist that would refuse a itself.
func allowListGuard(key string) func(a Actor, v string) error {
	return func(a Actor, v string) error {
		l, err := ParseAllowList(key, v)
		if err != nil {
			return err
		}
		if !l.Allows(a.Role, a.Addr) {
			return &ConflictError{Code: "lockout", Field: "value",
				Message: fmt.Sprintf("%s would refuse your own address %s as %s; add it, or change the list from an address it allows", key, a.Addr, a.Role)}
		}
		return nil
	}
}

package domain

import (
	"net/netip"
	"testing"
)

func TestAllowList(t *testing.T) {
	l, err := ParseAllowList(SettingAPIAllowlist, "10.0.0.0/8, admin:192.0.2.7 viewer:2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		role Role
		addr string
		want bool
	}{
		{RoleOperator, "10.1.2.3", true},
		{RoleOperator, "192.0.2.7", false},
		{RoleAdmin, "192.0.2.7", true},
		{RoleAdmin, "10.9.9.9", true}, // untagged entries are everybody's
		{RoleAdmin, "192.0.2.8", false},
		{RoleViewer, "2001:db8::5", true},
		{RoleViewer, "::ffff:10.0.0.1", true}, // a mapped IPv4 address is the IPv4 one
		{RoleAuditor, "2001:db8::5", false},
	} {
		if got := l.Allows(c.role, netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("%s from %s: %v, want %v", c.role, c.addr, got, c.want)
		}
	}
	only, _ := ParseAllowList(SettingAPIAllowlist, "admin:192.0.2.7")
	if !only.Allows(RoleViewer, netip.MustParseAddr("203.0.113.1")) || only.Allows(RoleAdmin, netip.Addr{}) {
		t.Error("a list for admins binds others, or lets an unknown address in")
	}
	for _, bad := range []string{"admn:1.2.3.4", "10.0.0.0/33", "example.com", "::ffff:1.2.3.4/120", "fe80::1%eth0"} {
		if _, err := ParseAllowList(SettingAPIAllowlist, bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// FuzzParseAllowList: whatever a form sends, the parser answers a list
// or an error without panicking, and every entry of a list it answers
// lets its own roles in from its own prefix and no one from an unknown
// address.
func FuzzParseAllowList(f *testing.F) {
	for _, s := range []string{"", "10.0.0.0/8", "admin:192.0.2.1, viewer:2001:db8::/32", "2001:db8::1 fe80::1%eth0", "admn:1.2.3.4", "::ffff:1.2.3.4/120", "a:b:c", "policy-editor:0.0.0.0/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		l, err := ParseAllowList(SettingAPIAllowlist, v)
		if err != nil {
			if l != nil {
				t.Fatalf("%q: refused but parsed %v", v, l)
			}
			return
		}
		for _, e := range l {
			if !e.prefix.IsValid() {
				t.Fatalf("%q: invalid prefix %v", v, e.prefix)
			}
			roles := Roles
			if e.role != "" {
				roles = []Role{e.role}
			}
			for _, r := range roles {
				if !l.Allows(r, e.prefix.Addr()) {
					t.Fatalf("%q: %s refused from its own entry %v", v, r, e.prefix)
				}
				if l.Allows(r, netip.Addr{}) {
					t.Fatalf("%q: %s allowed from an unknown address", v, r)
				}
			}
		}
	})
}

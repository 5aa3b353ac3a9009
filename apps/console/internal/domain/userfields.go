package domain

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The checks of what a user is made of. A refused value is an
// *InvalidError naming the field, and nothing is stored.

// maxEmailLen is the longest address SMTP carries (RFC 5321).
const maxEmailLen = 254

// validPersonName checks a user's name, which may be left empty (the
// email then stands for the person).
func validPersonName(s string) error {
	if s == "" {
		return nil
	}
	return validName("name", s)
}

// validEmail checks a user's email: one '@' between a local part and a
// domain, at most 254 bytes, no spaces or control characters.
func validEmail(s string) error {
	local, domain, ok := strings.Cut(s, "@")
	switch {
	case s == "":
		return Invalid("email", "required")
	case len(s) > maxEmailLen:
		return Invalid("email", fmt.Sprintf("is longer than %d characters", maxEmailLen))
	case !ok || local == "" || domain == "" || strings.Contains(domain, "@"):
		return Invalid("email", fmt.Sprintf("%q is not an email address (name@example.com)", s))
	case strings.ContainsFunc(s, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) }) || !utf8.ValidString(s):
		return Invalid("email", "may not contain spaces or control characters")
	}
	return nil
}

// validRole checks a role name against the console's roles.
func validRole(r Role) error {
	if r.Valid() {
		return nil
	}
	names := make([]string, len(Roles))
	for i, x := range Roles {
		names[i] = string(x)
	}
	return Invalid("role", fmt.Sprintf("%q is not a role; use one of %s", r, strings.Join(names, ", ")))
}

// validNewUser checks what a new user is made of.
func validNewUser(email, name string, role Role) error {
	if err := validEmail(email); err != nil {
		return err
	}
	if err := validRole(role); err != nil {
		return err
	}
	return validPersonName(name)
}

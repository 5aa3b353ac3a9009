package domain

import (
	"fmt"
	"slices"
	"strings"
)

// An API key's scope narrows its role: "read" lets it only read what
// the role reads, a collection ("devices") lets it reach only that part
// of the REST API, and "read:devices" both. A scoped key reaches no
// page, and any key may ask who it is (GET /api/v1/me). A key made by a
// key is never wider than the key that made it, in scope as in role.

// ScopeCollections are the parts of the REST API a scope may name: the
// first segment after /api/v1/.
var ScopeCollections = []string{"users", "groups", "devices", "resources", "attachments", "policies", "templates",
	"gateways", "settings", "alerts", "analytics", "audit", "apikeys", "support", "stream"}

// A Scope is a parsed API key scope; the zero Scope narrows nothing.
type Scope struct {
	ReadOnly   bool
	Collection string // "": every collection
}

// ParseScope parses a scope: "", "read", "<collection>" or
// "read:<collection>".
func ParseScope(v string) (Scope, error) {
	var sc Scope
	v = strings.TrimSpace(v)
	if rest, ok := strings.CutPrefix(v, "read"); ok && (rest == "" || rest[0] == ':') {
		sc.ReadOnly, v = true, strings.TrimPrefix(rest, ":")
		if rest == ":" {
			return Scope{}, Invalid("scope", "name a collection after read:")
		}
	}
	if v != "" {
		if !slices.Contains(ScopeCollections, v) {
			return Scope{}, Invalid("scope", fmt.Sprintf("%q is not read, a collection (%s) or read:<collection>", v, strings.Join(ScopeCollections, ", ")))
		}
		sc.Collection = v
	}
	return sc, nil
}

func (sc Scope) String() string {
	switch {
	case sc.ReadOnly && sc.Collection != "":
		return "read:" + sc.Collection
	case sc.ReadOnly:
		return "read"
	}
	return sc.Collection
}

// Covers reports whether every request inner allows sc allows too.
func (sc Scope) Covers(inner Scope) bool {
	if sc.ReadOnly && !inner.ReadOnly {
		return false
	}
	return sc.Collection == "" || sc.Collection == inner.Collection
}

// Allows reports whether the scope lets a key make a request with
// method to collection (the first segment after /api/v1/).
func (sc Scope) Allows(method, collection string) bool {
	read := method == "GET" || method == "HEAD"
	if collection == "me" && read {
		return true
	}
	if sc.ReadOnly && !read {
		return false
	}
	return sc.Collection == "" || sc.Collection == collection
}

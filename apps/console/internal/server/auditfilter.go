package server

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// auditFilterParams are the query parameters of the audit log's list,
// page and export; anything else is refused, so that a misspelt filter
// does not silently show everything.
var auditFilterParams = map[string]bool{
	"actor": true, "action": true, "resource": true, "effect": true, "gateway": true, "q": true,
	"cursor": true, "limit": true, "since": true, "until": true,
}

// maxFilterText bounds one text filter, in bytes.
const maxFilterText = 256

// parseAuditFilter reads an audit filter from q. It refuses, naming the
// parameter, what it cannot use: a parameter it does not know (other
// than those in extra), a time that is not RFC 3339 or a YYYY-MM-DD
// date (UTC midnight), a limit outside 1 to 1000, a cursor that is not a
// positive sequence number, since after until, and text over 256 bytes.
func parseAuditFilter(q url.Values, extra ...string) (store.AuditFilter, *fieldError) {
	var f store.AuditFilter
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !auditFilterParams[k] && !slices.Contains(extra, k) {
			return f, &fieldError{k, "is not an audit filter; use actor, action, resource, effect, gateway, q, since, until, limit or cursor"}
		}
		if len(q[k]) > 1 {
			return f, &fieldError{k, "is given more than once"}
		}
		if len(q.Get(k)) > maxFilterText {
			return f, &fieldError{k, fmt.Sprintf("is longer than %d bytes", maxFilterText)}
		}
	}
	f = store.AuditFilter{
		Actor: q.Get("actor"), Action: q.Get("action"), Resource: q.Get("resource"),
		Effect: q.Get("effect"), Gateway: q.Get("gateway"), Query: q.Get("q"),
	}
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return f, &fieldError{"cursor", fmt.Sprintf("%q is not a cursor; use the next_cursor of the previous page", v)}
		}
		f.Before = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return f, &fieldError{"limit", fmt.Sprintf("%q is not a number from 1 to 1000", v)}
		}
		f.Limit = n
	}
	var err *fieldError
	if f.Since, err = filterTime("since", q.Get("since")); err != nil {
		return f, err
	}
	if f.Until, err = filterTime("until", q.Get("until")); err != nil {
		return f, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Since.After(f.Until) {
		return f, &fieldError{"since", "is after until; nothing could match"}
	}
	return f, nil
}

// filterTime reads an RFC 3339 time or a YYYY-MM-DD date; empty is no
// bound.
func filterTime(field, v string) (time.Time, *fieldError) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, &fieldError{field, fmt.Sprintf("%q is not a time; write 2006-01-02 or 2006-01-02T15:04:05Z", v)}
}

// filtered reports whether f narrows the log (beyond paging).
func filtered(f store.AuditFilter) bool {
	return f.Actor != "" || f.Action != "" || f.Resource != "" || f.Effect != "" || f.Gateway != "" || f.Query != "" || !f.Since.IsZero() || !f.Until.IsZero()
}

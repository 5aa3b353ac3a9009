package domain

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"time"
)

// AuditFilter selects audit entries, newest first, as a person gives
// it: the actor and the gateway may be names (an email, a device or
// gateway name, "apikey:<name>") and ListAudit widens them to the ids
// they stand for.
type AuditFilter struct {
	Actor, Action, Resource, Effect, Gateway string
	// Query is a full-text search of actor, action, resource and detail
	// (see store.AuditFilter.Query).
	Query        string
	Since, Until time.Time
	// Before is the cursor: entries with Seq < Before; 0 is the newest.
	Before int64
	// Limit is the page size: 50 when zero, at most 1000.
	Limit int
}

// Filtered reports whether f narrows the log (beyond paging).
func (f AuditFilter) Filtered() bool {
	return f.Actor != "" || f.Action != "" || f.Resource != "" || f.Effect != "" || f.Gateway != "" || f.Query != "" || !f.Since.IsZero() || !f.Until.IsZero()
}

// AuditFilterParams are the query parameters of the audit log's list,
// page and export; anything else is refused, so that a misspelt filter
// does not silently show everything.
var AuditFilterParams = map[string]bool{
	"actor": true, "action": true, "resource": true, "effect": true, "gateway": true, "q": true,
	"cursor": true, "limit": true, "since": true, "until": true,
}

// maxFilterText bounds one text filter, in bytes.
const maxFilterText = 256

// ParseAuditFilter reads an audit filter from q. It refuses with an
// *InvalidError naming the parameter what it cannot use: a parameter it
// does not know (other than those in extra), a time that is not RFC 3339
// or a YYYY-MM-DD date (UTC midnight), a limit outside 1 to 1000, a
// cursor that is not a positive sequence number, since after until, and
// text over 256 bytes. The filter it returns is what parsed so far, for
// a form to show as typed.
func ParseAuditFilter(q url.Values, extra ...string) (AuditFilter, error) {
	var f AuditFilter
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !AuditFilterParams[k] && !slices.Contains(extra, k) {
			return f, Invalid(k, "is not an audit filter; use actor, action, resource, effect, gateway, q, since, until, limit or cursor")
		}
		if len(q[k]) > 1 {
			return f, Invalid(k, "is given more than once")
		}
		if len(q.Get(k)) > maxFilterText {
			return f, Invalid(k, fmt.Sprintf("is longer than %d bytes", maxFilterText))
		}
	}
	f = AuditFilter{
		Actor: q.Get("actor"), Action: q.Get("action"), Resource: q.Get("resource"),
		Effect: q.Get("effect"), Gateway: q.Get("gateway"), Query: q.Get("q"),
	}
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return f, Invalid("cursor", fmt.Sprintf("%q is not a cursor; use the next_cursor of the previous page", v))
		}
		f.Before = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return f, Invalid("limit", fmt.Sprintf("%q is not a number from 1 to 1000", v))
		}
		f.Limit = n
	}
	var err error
	if f.Since, err = filterTime("since", q.Get("since")); err != nil {
		return f, err
	}
	if f.Until, err = filterTime("until", q.Get("until")); err != nil {
		return f, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Since.After(f.Until) {
		return f, Invalid("since", "is after until; nothing could match")
	}
	return f, nil
}

// filterTime reads an RFC 3339 time or a YYYY-MM-DD date; empty is no
// bound.
func filterTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, Invalid(field, fmt.Sprintf("%q is not a time; write 2006-01-02 or 2006-01-02T15:04:05Z", v))
}

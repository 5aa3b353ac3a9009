// Package domain owns every operation of the console: users, devices,
// policies, resources, gateways, groups, API keys, settings, alerts and
// the audit log. Each operation takes (ctx, actor, input) and returns
// domain values and one error vocabulary (see errors.go); it checks its
// input, writes the store and appends its audit record, once, so that
// the REST API, the pages and the control plane cannot disagree about
// what an action did or how it is logged.
//
// The transports in package server only decode a request, call one
// operation and encode its result; they never import the store.
//
// Where things go: an operation on one kind of thing lives in the file
// named after it (users.go, devices.go, policies.go …); its input and
// output types sit beside it. Nothing here knows about HTTP.
//
// The reads of what the console has seen: the audit log (auditlog.go:
// list, export, verify; auditfilter.go parses a filter from query
// parameters, refusing with an InvalidError that names the parameter)
// and its signed checkpoints (checkpoints.go: what to sign; when is the
// caller's loop); alerts and their state (alerts.go); users' risk and
// the detectors' hits (analytics.go); the dashboard's numbers
// (summary.go, cached for a second); id → name resolution for pages
// (names.go, cached for 30 seconds). Both caches are safe for
// concurrent use. Replicas of the console over one database reach each
// other only through replicas.go.
package domain

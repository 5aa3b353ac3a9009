package server

import (
	"slices"

	"github.com/gonaut/gonaut/ztna/controlplane"
)

// Live events are shown to a subscriber only when their role may use the
// route that serves the same data: the route table stays the one
// authority on who sees what, for streams as for pages and the API.

// auditRoute serves the audit log, where every gateway event is stored.
const auditRoute = "GET /api/v1/audit"

// liveSource names the route that serves the data of a live event of
// type typ: gateway events (decisions, flows, revocations, alerts, device
// presence) are audit entries; gateway status and configuration versions
// are on the gateway list; "summary" is the dashboard's numbers. A type
// named nowhere has no source and is shown to no one.
func liveSource(typ string) string {
	switch {
	case slices.Contains(controlplane.EventKinds, typ):
		return auditRoute
	case typ == "gateway" || typ == "config":
		return "GET /api/v1/gateways"
	case typ == "summary":
		return "GET /api/v1/analytics/summary"
	}
	return ""
}

// liveTypes is every type of live event the console publishes.
func liveTypes() []string {
	return append([]string{"gateway", "config", "summary"}, controlplane.EventKinds...)
}

// livePerms maps every live event type to the permission of its source
// route in rs. A source that is not a route is a programming error.
func livePerms(rs []route) map[string]perm {
	byRoute := map[string]perm{}
	for _, rt := range rs {
		byRoute[rt.method+" "+rt.path] = rt.perm
	}
	out := map[string]perm{}
	for _, typ := range liveTypes() {
		p, ok := byRoute[liveSource(typ)]
		if !ok {
			panic("console: live event " + typ + " names no route as its source")
		}
		out[typ] = p
	}
	return out
}

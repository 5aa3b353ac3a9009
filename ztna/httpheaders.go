package ztna

import (
	"net/http"
	"strings"
)

// clientHeaderNames are the request headers, in the form headerKey gives,
// that say who is calling or where the request came from or was going.
// Upstreams trust them as the gateway's word, so the gateway never passes
// on a peer's copy: it sets the identity and X-Forwarded-For, -Host and
// -Proto itself. X-Original-URL and X-Rewrite-URL are here because some
// frameworks serve the path they name instead of the request's, which
// would put a path policy never saw in front of the upstream.
var clientHeaderNames = map[string]bool{
	"x-gonaut-identity":        true,
	"forwarded":                true,
	"x-real-ip":                true,
	"x-client-ip":              true,
	"true-client-ip":           true,
	"x-cluster-client-ip":      true,
	"cf-connecting-ip":         true,
	"x-remote-user":            true,
	"remote-user":              true,
	"x-remote-addr":            true,
	"x-original-url":           true,
	"x-rewrite-url":            true,
	"x-original-forwarded-for": true,
	"x-auth-request-user":      true,
	"x-auth-request-email":     true,
}

// headerKey is the form a header name is compared in: lower case, with
// '_' read as '-'. Go's server canonicalises names but keeps underscores
// (X_Gonaut_Identity stays apart from X-Gonaut-Identity), while CGI-style
// upstreams (PHP, WSGI, many proxies) turn both into HTTP_X_GONAUT_IDENTITY:
// to them the two are one header.
func headerKey(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// isClientHeader reports whether a peer's header of this name must not
// reach an upstream: a spelling of the identity header, of
// X-Forwarded-* or of another header in clientHeaderNames.
func isClientHeader(name string) bool {
	k := headerKey(name)
	return clientHeaderNames[k] || strings.HasPrefix(k, "x-forwarded-")
}

// stripClientHeaders removes every spelling of the headers that only the
// gateway may set from h.
func stripClientHeaders(h http.Header) {
	for name := range h {
		if isClientHeader(name) {
			delete(h, name)
		}
	}
}

package server

import (
	"net/http"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// An API key's scope (see domain/apiscope.go) as the transport applies
// it: the collection of a request is the first segment of its path
// after /api/v1/ ("/ws" is the stream's); a scoped key reaches no page.

// scopeAllows refuses, and answers, a request its API key's scope does
// not allow.
func (s *Server) scopeAllows(w http.ResponseWriter, r *http.Request, rt route, p *principal) bool {
	if p.apiKey == nil || p.apiKey.Scope == (domain.Scope{}) {
		return true
	}
	if !rt.page && p.apiKey.Scope.Allows(r.Method, collectionOf(r.URL.Path)) {
		return true
	}
	w.Header().Set("X-Gonaut-Refusal", "scope")
	writeError(w, http.StatusForbidden, "scope", "this API key's scope %q does not allow %s %s", p.apiKey.Scope, r.Method, r.URL.Path)
	return false
}

// collectionOf is the collection path names, "" for none.
func collectionOf(path string) string {
	if path == "/ws" {
		return "stream"
	}
	rest, ok := strings.CutPrefix(path, "/api/v1/")
	if !ok {
		return ""
	}
	c, _, _ := strings.Cut(rest, "/")
	return c
}

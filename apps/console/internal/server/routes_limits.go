package server

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gonaut/gonaut/policy"
)

// Policy drafts are the cheapest way to make the console work: any role
// may validate one, and validation parses and compiles whatever it is
// sent. Every route that carries a draft is therefore bounded in size
// before its body is read, and those that compile it are rate-limited
// per principal, so that one user cannot spend the console's CPU and
// memory for everybody.

const (
	// defaultDraftLimit is Options.PolicyDraftLimit's default: far above
	// any real policy set's document.
	defaultDraftLimit = 1 << 20
	// maxDraftLimit is the largest limit that can be configured: the
	// largest document the policy package parses, with room for JSON.
	maxDraftLimit = policy.MaxDocumentBytes + 64<<10
)

// limitDraft refuses a draft whose declared length is over the limit
// with 413 and bounds the reading of any other, so that a body without
// a length stops at the limit too. It reports false when it refused.
func (s *Server) limitDraft(w http.ResponseWriter, r *http.Request) bool {
	n := s.opts.PolicyDraftLimit
	if r.ContentLength > n {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "a policy draft is at most %d bytes", n)
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, n)
	return true
}

// allowCompile spends one of p's compile tokens; without one it answers
// 429 with Retry-After and reports false.
func (s *Server) allowCompile(w http.ResponseWriter, r *http.Request, p *principal) bool {
	ok, wait := s.compile.allowWait(compileKey(p), s.now())
	if ok {
		return true
	}
	secs := int64(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	if p != nil && p.session != nil && r.Header.Get("HX-Request") != "" {
		http.Error(w, "too many policy checks; wait a moment", http.StatusTooManyRequests)
		return false
	}
	writeError(w, http.StatusTooManyRequests, "rate_limited", "too many policy checks; retry in %s", time.Duration(max(secs, 1))*time.Second)
	return false
}

// compileKey names whose bucket a request spends: the user's (however
// they authenticate), else the API key's, within the tenant.
func compileKey(p *principal) string {
	switch {
	case p == nil:
		return "anonymous"
	case p.user != nil:
		return p.stateKey("user", p.user.ID)
	case p.apiKey != nil:
		return p.stateKey("apikey", p.apiKey.ID)
	case p.gateway != nil:
		return p.stateKey("gateway", p.gateway.ID)
	}
	return "anonymous"
}

package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

// Session policies as the transport applies them (see
// domain/sessionpolicy.go): a role that needs a second factor reaches
// only its own account until it signs in with one, and a sensitive
// route asks a session for its password again once ReauthWindow has
// passed since the sign-in or the last re-entry, at POST
// /api/v1/me/reauth or the /account/reauth page. Both refusals say so
// in X-Gonaut-Refusal ("mfa", "reauth").

// sensitive marks rt as wanting a fresh password.
func sensitive(rt route) route {
	rt.sensitive = true
	return rt
}

func (s *Server) reauthRoutes() []route {
	return []route{
		{method: "POST", path: "/api/v1/me/reauth", perm: permSelf, h: s.apiReauth},
		pageRoute("GET", "/account/reauth", permSelf, s.pageReauth),
		pageRoute("POST", "/account/reauth", permSelf, s.pageReauthPost),
	}
}

// sessionPolicyAllows refuses, and answers, a session without the
// second factor its role needs, on every route but its own account's.
func (s *Server) sessionPolicyAllows(w http.ResponseWriter, r *http.Request, rt route, p *principal) bool {
	if p.session == nil || p.support || !p.session.Policy.RequireMFA || p.session.MFA || rt.perm == permSelf {
		return true
	}
	w.Header().Set("X-Gonaut-Refusal", "mfa")
	const msg = "your role needs a second factor: enrol an authenticator on your account page, then sign in again with it"
	if rt.page {
		s.redirect(w, withPrincipal(r, p), "/account", flashError, msg)
		return false
	}
	writeError(w, http.StatusForbidden, "mfa_required", "%s", msg)
	return false
}

// freshEnough refuses, and answers, a session whose password is not
// fresh for a sensitive route.
func (s *Server) freshEnough(w http.ResponseWriter, r *http.Request, rt route, p *principal) bool {
	if p.session == nil || p.session.Fresh(s.now()) {
		return true
	}
	w.Header().Set("X-Gonaut-Refusal", "reauth")
	if rt.page {
		next := r.Header.Get("Referer")
		if u, err := url.Parse(next); err == nil {
			next = u.RequestURI()
		}
		s.redirect(w, withPrincipal(r, p), "/account/reauth?next="+url.QueryEscape(safeNext(next)), flashError,
			"enter your password again to make this change; nothing was changed yet")
		return false
	}
	writeError(w, http.StatusForbidden, "reauth_required", "this change needs your password again: POST /api/v1/me/reauth, then retry within %s", domain.ReauthWindow)
	return false
}

// withPrincipal is r carrying p, as handlers get it, for the answers
// made before (a redirect's flash is sealed with p's key).
func withPrincipal(r *http.Request, p *principal) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), ctxKey{}, p))
}

func (s *Server) apiReauth(w http.ResponseWriter, r *http.Request, p *principal) {
	if p.session == nil {
		writeError(w, http.StatusBadRequest, "invalid", "API keys are not asked for a password; re-authentication is for sessions")
		return
	}
	var req reauthRequest
	if !decode(w, r, &req) {
		return
	}
	if err := p.dom.Reauthenticate(r.Context(), p.domainActor(), p.session.ID, req.Password, req.Code); err != nil {
		s.writeReauthProblem(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) writeReauthProblem(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, domain.ErrReauth):
		writeError(w, http.StatusUnauthorized, "reauth_failed", "%s", err)
	case errors.Is(err, domain.ErrThrottled):
		writeError(w, http.StatusTooManyRequests, "rate_limited", "%s", err)
	default:
		s.writeProblem(w, err)
	}
}

func (s *Server) pageReauth(w http.ResponseWriter, r *http.Request, p *principal) {
	next := safeNext(r.URL.Query().Get("next"))
	l := ui.List{Page: s.pageOf(r, p, "Confirm it is you", ""), Heading: "Enter your password again",
		Form: []ui.Field{
			{Name: "password", Label: "Password", Type: "password", Required: true},
			{Name: "code", Label: "Authenticator or recovery code (if you use one)"},
		},
		Action: "/account/reauth?next=" + url.QueryEscape(next), Submit: "Confirm"}
	s.render(w, r, http.StatusOK, ui.ListPage(l))
}

func (s *Server) pageReauthPost(w http.ResponseWriter, r *http.Request, p *principal) {
	next := safeNext(r.URL.Query().Get("next"))
	if p.session == nil {
		s.redirect(w, r, next, flashError, "only a signed-in session confirms its password")
		return
	}
	if err := p.dom.Reauthenticate(r.Context(), p.domainActor(), p.session.ID, r.PostFormValue("password"), r.PostFormValue("code")); err != nil {
		s.redirect(w, r, "/account/reauth?next="+url.QueryEscape(next), flashError, "not confirmed: "+err.Error())
		return
	}
	s.redirect(w, r, next, flashInfo, "Confirmed; make your change within "+domain.ReauthWindow.String()+".")
}

package server

import (
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

// safeNext keeps post-login redirects on this site: it returns next
// only when it is a relative path that every browser resolves against
// this origin, and "/" otherwise. Browsers strip tabs and newlines from
// URLs and read a backslash as a slash, so "/\t/evil" or "/\\evil" would
// become the protocol-relative "//evil"; any control character, space or
// backslash is therefore refused outright, before the URL is parsed.
func safeNext(next string) string {
	if len(next) > 2048 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	for _, c := range next {
		if c <= ' ' || c == 0x7f || c == '\\' || !unicode.IsPrint(c) {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	return next
}

func (s *Server) pageLoginRoutes() []route {
	return []route{
		pageRoute("GET", "/login", permPublic, s.pageLogin),
		pageRoute("POST", "/login", permPublic, s.pageLoginPost),
		pageRoute("POST", "/logout", permSelf, s.pageLogout),
	}
}

func (s *Server) pageLogin(w http.ResponseWriter, r *http.Request, p *principal) {
	if p != nil && p.session != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	l := ui.Login{Page: s.pageOf(r, nil, "Log in", ""), Next: r.URL.Query().Get("next"), Organisation: r.URL.Query().Get("organisation")}
	l.AskOrganisation = s.plat.HasTenants(r.Context())
	l.Providers = s.signInButtons(r, l.Organisation)
	l.CSRF = s.loginCSRF(w, r)
	s.render(w, r, http.StatusOK, ui.LoginPage(l))
}

func (s *Server) pageLoginPost(w http.ResponseWriter, r *http.Request, p *principal) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if !s.checkLoginCSRF(r, r.PostFormValue("csrf")) {
		w.Header().Set("X-Gonaut-Refusal", "csrf")
		http.Error(w, "missing or wrong CSRF token; reload the login page", http.StatusForbidden)
		return
	}
	email, org := r.PostFormValue("email"), r.PostFormValue("organisation")
	if _, err := s.login(w, r, org, email, r.PostFormValue("password"), r.PostFormValue("code")); err != nil {
		l := ui.Login{Page: s.pageOf(r, nil, "Log in", ""), Email: email, Organisation: org, Next: r.PostFormValue("next")}
		l.AskOrganisation = s.plat.HasTenants(r.Context())
		l.Providers = s.signInButtons(r, org)
		l.CSRF = s.loginCSRF(w, r)
		var status int
		status, l.Error = loginRefusal(err)
		s.render(w, r, status, ui.LoginPage(l))
		return
	}
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (s *Server) pageLogout(w http.ResponseWriter, r *http.Request, p *principal) {
	if p.session != nil {
		p.dom.Logout(r.Context(), p.session.ID)
	}
	s.clearSession(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

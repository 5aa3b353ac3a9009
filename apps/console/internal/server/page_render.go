package server

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/a-h/templ"
	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

// What every page_*.go file shares: rendering a templ component in the
// console's layout (render, pageOf), the error and forbidden pages, and
// the small formatters of list pages (when, nextURL).

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := c.Render(r.Context(), w); err != nil {
		s.log.Error("console: render", "path", r.URL.Path, "err", err)
	}
}

func (s *Server) pageOf(r *http.Request, p *principal, title, nav string) ui.Page {
	pg := ui.Page{Title: title, Nav: nav}
	if f, ok := r.Context().Value(flashCtxKey{}).(flash); ok {
		switch f.kind {
		case flashInfo:
			pg.Flash = f.text
		case flashError:
			pg.Error = f.text
		}
	}
	if p != nil {
		pg.User, pg.Role = p.name(), string(p.role)
		pg.CSRF = p.csrf
		pg.Platform = !p.support && allowed(permPlatform, p.role) && p.tenant == s.plat.Default().TenantID()
		if p.support {
			pg.Support = p.tenant
		}
	}
	return pg
}

func (s *Server) pageForbidden(w http.ResponseWriter, r *http.Request, p *principal) {
	s.render(w, r, http.StatusForbidden, ui.Forbidden(s.pageOf(r, p, "Forbidden", "")))
}

// pageError answers a page request that failed with an error page in
// the console's layout, so that the reader keeps the navigation.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	status, title, msg := http.StatusInternalServerError, "Something went wrong", "The console could not show this page. Try again; if it persists, the server log has the cause."
	switch {
	case errors.Is(err, domain.ErrNotFound):
		status, title, msg = http.StatusNotFound, "Not found", "There is nothing at "+r.URL.Path+"."
	case isDomainRefusal(err):
		status, title, msg = http.StatusBadRequest, "Not accepted", s.problemMessage(err)
	default:
		s.log.Error("console: page", "path", r.URL.Path, "err", err)
	}
	p, _ := r.Context().Value(ctxKey{}).(*principal)
	s.render(w, r, status, ui.ErrorPage(s.pageOf(r, p, title, ""), status, msg))
}

// isDomainRefusal reports whether err is an operation refusing its
// input: invalid or in conflict.
func isDomainRefusal(err error) bool {
	_, invalid := errors.AsType[*domain.InvalidError](err)
	_, conflict := errors.AsType[*domain.ConflictError](err)
	return invalid || conflict
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Format("2006-01-02 15:04:05")
}

func nextURL(path, cursor string, o domain.ListOptions) string {
	return path + "?cursor=" + url.QueryEscape(cursor) + "&q=" + url.QueryEscape(o.Query)
}

// roleNames are rs as a form's options.
func roleNames(rs []domain.Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

package server

import (
	"io/fs"
	"net/http"

	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

// The pages' static files (styles, scripts, icons: ui.Static) and the
// health check, both public.

var _ fs.FS = ui.Static

func (s *Server) pageStaticRoutes() []route {
	static := http.StripPrefix("/static/", http.FileServerFS(ui.Static))
	return []route{
		{method: "GET", path: "/healthz", perm: permPublic, h: func(w http.ResponseWriter, r *http.Request, p *principal) { w.Write([]byte("ok\n")) }},
		{method: "GET", path: "/static/", perm: permPublic, h: func(w http.ResponseWriter, r *http.Request, p *principal) {
			w.Header().Set("Cache-Control", "public, max-age=3600")
			static.ServeHTTP(w, r)
		}},
	}
}

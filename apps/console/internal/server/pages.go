package server

import "net/http"

func (s *Server) pageRoutes() []route {
	return []route{
		{method: "GET", path: "/healthz", perm: permPublic, h: func(w http.ResponseWriter, r *http.Request, _ *principal) { w.Write([]byte("ok\n")) }},
	}
}

func (s *Server) pageForbidden(w http.ResponseWriter, r *http.Request, p *principal) {
	http.Error(w, "your role may not open this page", http.StatusForbidden)
}

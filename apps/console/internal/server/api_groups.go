package server

import (
	"errors"
	"net/http"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// Group is a defined group as the REST API shows it.
type Group struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// GroupDetail is a group with its members (see domain.GroupDetail).
type GroupDetail struct {
	Group
	// Defined is false for a name users carry that no group defines.
	Defined bool   `json:"defined"`
	Members []User `json:"members"`
}

func (s *Server) apiGroupRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/groups", perm: permRead, h: s.apiListGroups},
		{method: "PUT", path: "/api/v1/groups/{name}", perm: permAdmin, h: s.apiPutGroup},
		{method: "DELETE", path: "/api/v1/groups/{name}", perm: permAdmin, h: s.apiDeleteGroup},
		{method: "GET", path: "/api/v1/groups/{name}", perm: permRead, h: s.apiGetGroup},
		{method: "PUT", path: "/api/v1/groups/{name}/members/{user}", perm: permAdmin, h: s.apiPutMember},
		{method: "DELETE", path: "/api/v1/groups/{name}/members/{user}", perm: permAdmin, h: s.apiDeleteMember},
	}
}

func (s *Server) apiListGroups(w http.ResponseWriter, r *http.Request, p *principal) {
	gs, err := p.dom.ListGroups(r.Context(), p.domainActor())
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	out := make([]Group, len(gs))
	for i, g := range gs {
		out[i] = Group(g)
	}
	writeJSON(w, http.StatusOK, page[Group]{Items: out})
}

type groupRequest struct {
	Description string `json:"description"`
}

func (s *Server) apiPutGroup(w http.ResponseWriter, r *http.Request, p *principal) {
	var req groupRequest
	if !decode(w, r, &req) {
		return
	}
	g, err := p.dom.PutGroup(r.Context(), p.domainActor(), domain.Group{Name: r.PathValue("name"), Description: req.Description})
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	s.changed(p.tenant)
	writeJSON(w, http.StatusOK, Group(*g))
}

func (s *Server) apiDeleteGroup(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := p.dom.DeleteGroup(r.Context(), p.domainActor(), r.PathValue("name")); err != nil {
		s.writeProblem(w, err)
		return
	}
	s.changed(p.tenant)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiGetGroup(w http.ResponseWriter, r *http.Request, p *principal) {
	d, err := p.dom.GroupDetail(r.Context(), p.domainActor(), r.PathValue("name"))
	if errors.Is(err, domain.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no group %q", r.PathValue("name"))
		return
	}
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	out := GroupDetail{Group: Group(d.Group), Defined: d.Defined, Members: make([]User, len(d.Members))}
	for i := range d.Members {
		out.Members[i] = apiUserOf(d.Members[i])
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiPutMember(w http.ResponseWriter, r *http.Request, p *principal) {
	s.apiSetMember(w, r, p, true)
}

func (s *Server) apiDeleteMember(w http.ResponseWriter, r *http.Request, p *principal) {
	s.apiSetMember(w, r, p, false)
}

func (s *Server) apiSetMember(w http.ResponseWriter, r *http.Request, p *principal, member bool) {
	u, err := p.dom.SetMember(r.Context(), p.domainActor(), r.PathValue("name"), r.PathValue("user"), member)
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	s.changed(p.tenant)
	writeJSON(w, http.StatusOK, apiUserOf(*u))
}

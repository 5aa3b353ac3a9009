package server

import (
	"context"
	"net/http"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// Resource is a resource as the REST API shows it.
type Resource struct {
	Name    string            `json:"name"`
	Kind    string            `json:"kind"`
	Address string            `json:"address"`
	Port    int               `json:"port"`
	Labels  map[string]string `json:"labels"`
	Gateway string            `json:"gateway,omitempty"`
	Note    string            `json:"note,omitempty"`
}

func resourceJSON(x *domain.Resource) Resource {
	return Resource{Name: x.Name, Kind: x.Kind, Address: x.Address, Port: x.Port, Labels: x.Labels, Gateway: x.Gateway, Note: x.Note}
}

type resourceRequest struct {
	Kind    string            `json:"kind"`
	Address string            `json:"address"`
	Port    int               `json:"port"`
	Labels  map[string]string `json:"labels"`
	Gateway string            `json:"gateway"`
	Note    string            `json:"note"`
}

func (s *Server) apiResourceRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/resources", perm: permRead, h: s.apiListResources},
		{method: "GET", path: "/api/v1/resources/{name}", perm: permRead, h: s.apiGetResource},
		{method: "PUT", path: "/api/v1/resources/{name}", perm: permOps, h: s.apiPutResource},
		{method: "DELETE", path: "/api/v1/resources/{name}", perm: permOps, h: s.apiDeleteResource},
	}
}

func (s *Server) apiListResources(w http.ResponseWriter, r *http.Request, p *principal) {
	serveList(s, w, r, func(ctx context.Context, o domain.ListOptions) ([]Resource, error) {
		rs, err := p.dom.ListResources(ctx, p.domainActor(), o)
		out := make([]Resource, len(rs))
		for i := range rs {
			out[i] = resourceJSON(&rs[i])
		}
		return out, err
	}, func(x Resource) string { return x.Name })
}

func (s *Server) apiGetResource(w http.ResponseWriter, r *http.Request, p *principal) {
	x, err := p.dom.Resource(r.Context(), p.domainActor(), r.PathValue("name"))
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resourceJSON(x))
}

func (s *Server) apiPutResource(w http.ResponseWriter, r *http.Request, p *principal) {
	var req resourceRequest
	if !decode(w, r, &req) {
		return
	}
	x, err := p.dom.PutResource(r.Context(), p.domainActor(), domain.Resource{Name: r.PathValue("name"), Kind: req.Kind, Address: req.Address, Port: req.Port, Labels: req.Labels, Gateway: req.Gateway, Note: req.Note})
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	s.changed(p.tenant)
	writeJSON(w, http.StatusOK, resourceJSON(x))
}

func (s *Server) apiDeleteResource(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := p.dom.DeleteResource(r.Context(), p.domainActor(), r.PathValue("name")); err != nil {
		s.writeProblem(w, err)
		return
	}
	s.changed(p.tenant)
	w.WriteHeader(http.StatusNoContent)
}

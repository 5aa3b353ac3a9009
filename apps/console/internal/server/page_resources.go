package server

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

func (s *Server) pageResourceRoutes() []route {
	return []route{
		pageRoute("GET", "/resources", permRead, s.pageResources),
		pageRoute("POST", "/resources", permOps, s.pageResourcePost),
		pageRoute("POST", "/resources/{id}/delete", permOps, s.pageResourceDelete),
	}
}

func (s *Server) pageResources(w http.ResponseWriter, r *http.Request, p *principal) {
	s.renderResources(w, r, p, nil)
}

func (s *Server) renderResources(w http.ResponseWriter, r *http.Request, p *principal, res *ui.Result) {
	o := listOpts(r)
	rs, err := p.dom.ListResources(r.Context(), p.domainActor(), o)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	l := ui.List{Page: s.pageOf(r, p, "Resources", "resources"), Heading: "Resources", Query: o.Query, Result: res,
		Table: ui.Table{Head: []string{"Name", "Kind", "Address", "Port", "Labels", "Source"}}}
	if allowed(permOps, p.role) {
		l.Form = []ui.Field{{Name: "name", Label: "Name", Required: true}, {Name: "kind", Label: "Kind", Options: domain.ResourceKinds},
			{Name: "address", Label: "Address"}, {Name: "port", Label: "Port", Type: "number"}, {Name: "labels", Label: "Labels (key=value, comma separated)"}}
		l.Action, l.Submit, l.RowActions = "/resources", "Add resource", []string{"delete"}
	}
	for _, x := range rs {
		var labels []string
		for k, v := range x.Labels {
			labels = append(labels, k+"="+v)
		}
		l.Table.Rows = append(l.Table.Rows, ui.Row{ID: x.Name, Cells: []string{x.Name, x.Kind, x.Address, strconv.Itoa(x.Port), strings.Join(labels, ", "), "console"}})
	}
	// The gateways' own resources follow the console's on the first page:
	// they are read-only here, edited in each gateway's configuration.
	if o.After == "" {
		local, err := s.localResourceRows(r, p, o.Query)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		l.Table.Rows = append(l.Table.Rows, local...)
	}
	if len(rs) == clampLimit(o.Limit) {
		l.Next = nextURL("/resources", rs[len(rs)-1].Name, o)
	}
	s.render(w, r, http.StatusOK, ui.ListPage(l))
}

func (s *Server) pageResourcePost(w http.ResponseWriter, r *http.Request, p *principal) {
	port, _ := strconv.Atoi(r.PostFormValue("port"))
	labels, err := domain.ParseLabels("labels", r.PostFormValue("labels"))
	if err != nil {
		s.redirect(w, r, "/resources", flashError, "not saved: "+err.Error())
		return
	}
	if p := strings.TrimSpace(r.PostFormValue("port")); p != "" && strconv.Itoa(port) != p {
		s.redirect(w, r, "/resources", flashError, fmt.Sprintf("not saved: port: %q is not a number", p))
		return
	}
	x, err := p.dom.PutResource(r.Context(), p.domainActor(), domain.Resource{Name: r.PostFormValue("name"), Kind: r.PostFormValue("kind"), Address: r.PostFormValue("address"), Port: port, Labels: labels})
	if err != nil {
		s.redirect(w, r, "/resources", flashError, "not saved: "+s.problemMessage(err))
		return
	}
	s.changed(p.tenant)
	s.redirect(w, r, "/resources", flashInfo, "Saved resource "+x.Name+".")
}

func (s *Server) pageResourceDelete(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := p.dom.DeleteResource(r.Context(), p.domainActor(), r.PathValue("id")); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.changed(p.tenant)
	s.redirect(w, r, "/resources", flashInfo, "Deleted "+r.PathValue("id")+".")
}

// localResourceRows are the Resources page's read-only rows for what each
// gateway (not revoked) last reported serving from its own configuration,
// filtered by query as the console's rows are.
func (s *Server) localResourceRows(r *http.Request, p *principal, query string) ([]ui.Row, error) {
	ls, err := p.dom.LocalResources(r.Context(), p.domainActor(), query)
	if err != nil {
		return nil, err
	}
	var rows []ui.Row
	for _, l := range ls {
		port := ""
		if l.Port != 0 {
			port = strconv.Itoa(l.Port)
		}
		rows = append(rows, ui.Row{Tone: "muted", Actions: []string{},
			Cells:  []string{l.Name, l.Kind, "", port, "", "from gateway " + l.GatewayName},
			Titles: []string{"", "", "", "", "", l.GatewayID}})
	}
	return rows, nil
}

package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

// roleCan says in words what each role may do; the route table is the
// authority, this is its summary for people.
var roleCan = map[domain.Role]string{
	domain.RoleAdmin:        "everything, including users, roles, groups and API keys",
	domain.RoleOperator:     "manage gateways, devices and resources; acknowledge alerts",
	domain.RolePolicyEditor: "write, test, simulate and roll back policies",
	domain.RoleAuditor:      "read everything, including the audit log",
	domain.RoleViewer:       "read pages other than the audit log",
}

func (s *Server) pageGroupRoutes() []route {
	return []route{
		pageRoute("GET", "/groups", permRead, s.pageGroups),
		pageRoute("POST", "/groups", permAdmin, s.pageGroupPost),
		pageRoute("POST", "/groups/{name}/members", permAdmin, s.pageMemberAdd),
		pageRoute("POST", "/groups/{name}/members/{id}/remove", permAdmin, s.pageMemberRemove),
	}
}

func (s *Server) pageGroups(w http.ResponseWriter, r *http.Request, p *principal) {
	ds, err := p.dom.GroupDetails(r.Context(), p.domainActor())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	g := ui.Groups{Page: s.pageOf(r, p, "Groups and roles", "groups"), Admin: allowed(permAdmin, p.role)}
	for _, d := range ds {
		v := ui.GroupView{Name: d.Name, Description: d.Description, Defined: d.Defined}
		for _, m := range d.Members {
			v.Members = append(v.Members, ui.Member{ID: m.ID, Email: m.Email, Name: m.Name, Role: string(m.Role)})
		}
		g.Groups = append(g.Groups, v)
	}
	holders, err := p.dom.RoleHolders(r.Context(), p.domainActor())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	for _, role := range domain.Roles {
		var names []string
		for _, u := range holders[role] {
			name := u.Email
			if u.Disabled {
				name += " (disabled)"
			}
			names = append(names, name)
		}
		g.Roles = append(g.Roles, ui.RoleView{Name: string(role), Can: roleCan[role], Users: names})
		g.RoleNames = append(g.RoleNames, string(role))
	}
	s.render(w, r, http.StatusOK, ui.GroupsPage(g))
}

func (s *Server) pageGroupPost(w http.ResponseWriter, r *http.Request, p *principal) {
	g, err := p.dom.PutGroup(r.Context(), p.domainActor(), domain.Group{Name: strings.TrimSpace(r.PostFormValue("name")), Description: strings.TrimSpace(r.PostFormValue("description"))})
	if inv, ok := errors.AsType[*domain.InvalidError](err); ok && inv.Field == "name" {
		s.redirect(w, r, "/groups", flashError, inv.Message)
		return
	}
	if err != nil {
		s.redirect(w, r, "/groups", flashError, "not saved: "+s.problemMessage(err))
		return
	}
	s.changed(p.tenant)
	s.redirect(w, r, "/groups", flashInfo, "Created group "+g.Name+".")
}

func (s *Server) pageMemberAdd(w http.ResponseWriter, r *http.Request, p *principal) {
	group := r.PathValue("name")
	u, err := p.dom.SetMember(r.Context(), p.domainActor(), group, strings.TrimSpace(r.PostFormValue("user")), true)
	if err != nil {
		s.redirect(w, r, "/groups", flashError, "not added: "+s.problemMessage(err))
		return
	}
	s.changed(p.tenant)
	s.redirect(w, r, "/groups", flashInfo, "Added "+u.Email+" to "+group+".")
}

func (s *Server) pageMemberRemove(w http.ResponseWriter, r *http.Request, p *principal) {
	group := r.PathValue("name")
	u, err := p.dom.SetMember(r.Context(), p.domainActor(), group, r.PathValue("id"), false)
	if err != nil {
		s.redirect(w, r, "/groups", flashError, "not removed: "+s.problemMessage(err))
		return
	}
	s.changed(p.tenant)
	s.redirect(w, r, "/groups", flashInfo, "Removed "+u.Email+" from "+group+".")
}

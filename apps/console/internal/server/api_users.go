package server

import (
	"net/http"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// The users of the REST API: /api/v1/users (the caller's own account,
// /api/v1/me, is api_account.go).

// User is a user as the API shows her. The API types are named like
// the domain's values they show, which also names their OpenAPI
// components.
type User struct {
	ID          string      `json:"id"`
	Email       string      `json:"email"`
	Name        string      `json:"name"`
	Role        domain.Role `json:"role"`
	Groups      []string    `json:"groups"`
	TOTPEnabled bool        `json:"totp_enabled"`
	Disabled    bool        `json:"disabled"`
	Created     time.Time   `json:"created"`
	Version     int64       `json:"version"`
}

func apiUserOf(u domain.User) User {
	return User{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Groups: u.Groups, TOTPEnabled: u.TOTPEnabled,
		Disabled: u.Disabled, Created: u.Created, Version: u.Version}
}

func (s *Server) apiUserRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/users", perm: permRead, h: s.apiListUsers},
		{method: "POST", path: "/api/v1/users", perm: permAdmin, h: s.apiCreateUser, sensitive: true},
		{method: "GET", path: "/api/v1/users/{id}", perm: permRead, h: s.apiGetUser},
		{method: "PATCH", path: "/api/v1/users/{id}", perm: permAdmin, h: s.apiPatchUser, sensitive: true},
	}
}

func (s *Server) apiListUsers(w http.ResponseWriter, r *http.Request, p *principal) {
	o := listOpts(r)
	us, err := p.dom.ListUsers(r.Context(), p.domainActor(), o)
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	out := make([]User, len(us))
	for i, u := range us {
		out[i] = apiUserOf(u)
	}
	writeJSON(w, http.StatusOK, pageOf(out, o, func(u User) string { return u.ID }))
}

type userRequest struct {
	Email    string      `json:"email"`
	Name     string      `json:"name"`
	Role     domain.Role `json:"role"`
	Groups   []string    `json:"groups"`
	Password string      `json:"password"`
}

func (s *Server) apiCreateUser(w http.ResponseWriter, r *http.Request, p *principal) {
	var req userRequest
	if !decode(w, r, &req) {
		return
	}
	u, err := p.dom.CreateUser(r.Context(), p.domainActor(), domain.NewUser(req))
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	s.changed(p.tenant)
	writeJSON(w, http.StatusCreated, apiUserOf(u))
}

func (s *Server) apiGetUser(w http.ResponseWriter, r *http.Request, p *principal) {
	u, err := p.dom.User(r.Context(), p.domainActor(), r.PathValue("id"))
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, apiUserOf(u))
}

type userPatch struct {
	Name     *string      `json:"name"`
	Role     *domain.Role `json:"role"`
	Groups   *[]string    `json:"groups"`
	Disabled *bool        `json:"disabled"`
	Password *string      `json:"password"`
	// Unlock ends the sign-in backoff of the user from every source.
	Unlock bool `json:"unlock"`
}

func (s *Server) apiPatchUser(w http.ResponseWriter, r *http.Request, p *principal) {
	var req userPatch
	if !decode(w, r, &req) {
		return
	}
	u, err := p.dom.UpdateUser(r.Context(), p.domainActor(), r.PathValue("id"), domain.UserPatch(req))
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	s.changed(p.tenant)
	writeJSON(w, http.StatusOK, apiUserOf(u))
}

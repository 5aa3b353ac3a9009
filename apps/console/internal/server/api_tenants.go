package server

import (
	"net/http"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// The platform's REST API, /api/v1/tenants: the root tenant's admins
// create, change, suspend, export and delete tenants and read their
// usage (see domain.Platform); POST /api/v1/tenants/{id}/support checks
// that a tenant's grant is in force before its data is read with the
// X-Gonaut-Support header (auth_support.go). A tenant's own admins
// grant and revoke that access at /api/v1/support.

// Tenant is a tenant as the API shows it.
type Tenant struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Suspended bool          `json:"suspended"`
	Created   time.Time     `json:"created"`
	Quotas    domain.Quotas `json:"quotas"`
	Usage     *domain.Usage `json:"usage,omitempty"`
	Support   *SupportGrant `json:"support,omitempty"`
}

// SupportGrant is a tenant's grant of support access in force.
type SupportGrant struct {
	Role      domain.Role `json:"role"`
	Until     time.Time   `json:"until"`
	GrantedBy string      `json:"granted_by"`
}

func supportGrantOf(g domain.Support, now time.Time) *SupportGrant {
	if !g.Active(now) {
		return nil
	}
	return &SupportGrant{Role: domain.Role(g.Role), Until: g.Until, GrantedBy: g.GrantedBy}
}

func (s *Server) apiTenantOf(t domain.Tenant, withUsage bool) Tenant {
	out := Tenant{ID: t.ID, Name: t.Name, Suspended: t.Suspended, Created: t.Created, Quotas: t.Quotas, Support: supportGrantOf(t.Support, s.now())}
	if withUsage {
		out.Usage = &t.Usage
	}
	return out
}

// TenantExport is a tenant's configuration (see domain.TenantExport).
type TenantExport struct {
	Tenant    Tenant           `json:"tenant"`
	Exported  time.Time        `json:"exported"`
	Users     []User           `json:"users"`
	Groups    []Group          `json:"groups"`
	Resources []Resource       `json:"resources"`
	Policies  []Policy         `json:"policies"`
	Gateways  []Gateway        `json:"gateways"`
	Devices   []Device         `json:"devices"`
	Settings  []consoleSetting `json:"settings"`
}

func (s *Server) apiTenantRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/tenants", perm: permPlatform, h: s.apiListTenants},
		{method: "POST", path: "/api/v1/tenants", perm: permPlatform, h: s.apiCreateTenant, sensitive: true},
		{method: "GET", path: "/api/v1/tenants/{id}", perm: permPlatform, h: s.apiGetTenant},
		{method: "PATCH", path: "/api/v1/tenants/{id}", perm: permPlatform, h: s.apiPatchTenant, sensitive: true},
		{method: "DELETE", path: "/api/v1/tenants/{id}", perm: permPlatform, h: s.apiDeleteTenant, sensitive: true},
		{method: "GET", path: "/api/v1/tenants/{id}/export", perm: permPlatform, h: s.apiExportTenant},
		{method: "POST", path: "/api/v1/tenants/{id}/support", perm: permPlatform, h: s.apiBeginSupport},
		{method: "GET", path: "/api/v1/support", perm: permAdmin, h: s.apiGetSupport},
		{method: "PUT", path: "/api/v1/support", perm: permAdmin, h: s.apiGrantSupport, sensitive: true},
		{method: "DELETE", path: "/api/v1/support", perm: permAdmin, h: s.apiRevokeSupport, sensitive: true},
	}
}

func (s *Server) apiListTenants(w http.ResponseWriter, r *http.Request, p *principal) {
	ts, err := s.plat.ListTenants(r.Context(), p.domainActor())
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	out := make([]Tenant, len(ts))
	for i, t := range ts {
		out[i] = s.apiTenantOf(t, true)
	}
	writeJSON(w, http.StatusOK, page[Tenant]{Items: out})
}

func (s *Server) apiGetTenant(w http.ResponseWriter, r *http.Request, p *principal) {
	t, err := s.plat.TenantUsage(r.Context(), p.domainActor(), r.PathValue("id"))
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.apiTenantOf(t, true))
}

type tenantRequest struct {
	ID     string        `json:"id"`
	Name   string        `json:"name"`
	Quotas domain.Quotas `json:"quotas"`
}

func (s *Server) apiCreateTenant(w http.ResponseWriter, r *http.Request, p *principal) {
	var req tenantRequest
	if !decode(w, r, &req) {
		return
	}
	t, err := s.plat.CreateTenant(r.Context(), p.domainActor(), domain.NewTenant{ID: req.ID, Name: req.Name, Quotas: req.Quotas})
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.apiTenantOf(t, false))
}

type tenantPatch struct {
	Name      *string        `json:"name,omitempty"`
	Suspended *bool          `json:"suspended,omitempty"`
	Quotas    *domain.Quotas `json:"quotas,omitempty"`
}

func (s *Server) apiPatchTenant(w http.ResponseWriter, r *http.Request, p *principal) {
	var req tenantPatch
	if !decode(w, r, &req) {
		return
	}
	t, err := s.plat.UpdateTenant(r.Context(), p.domainActor(), r.PathValue("id"), domain.TenantChange(req))
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	// A suspension ends the tenant's live streams and gateways' waits
	// with the next configuration check.
	s.changed(t.ID)
	writeJSON(w, http.StatusOK, s.apiTenantOf(t, false))
}

func (s *Server) apiDeleteTenant(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := s.plat.DeleteTenant(r.Context(), p.domainActor(), r.PathValue("id")); err != nil {
		s.writeProblem(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiExportTenant(w http.ResponseWriter, r *http.Request, p *principal) {
	x, err := s.plat.ExportTenant(r.Context(), p.domainActor(), r.PathValue("id"))
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	out := TenantExport{Tenant: s.apiTenantOf(domain.Tenant{Tenant: x.Tenant}, false), Exported: x.Exported,
		Users: make([]User, len(x.Users)), Groups: make([]Group, len(x.Groups)), Resources: make([]Resource, len(x.Resources)),
		Policies: make([]Policy, len(x.Policies)), Gateways: make([]Gateway, len(x.Gateways)), Devices: make([]Device, len(x.Devices)),
		Settings: make([]consoleSetting, len(x.Settings))}
	for i, u := range x.Users {
		out.Users[i] = apiUserOf(u)
	}
	for i, g := range x.Groups {
		out.Groups[i] = Group(g)
	}
	for i := range x.Resources {
		out.Resources[i] = resourceJSON(&x.Resources[i])
	}
	for i := range x.Policies {
		out.Policies[i] = policyJSON(&x.Policies[i])
	}
	for i, g := range x.Gateways {
		out.Gateways[i] = apiGatewayOf(g)
	}
	for i, d := range x.Devices {
		out.Devices[i] = *apiDeviceOf(d)
	}
	for i, c := range x.Settings {
		out.Settings[i] = apiSetting(c)
	}
	w.Header().Set("Content-Disposition", `attachment; filename="tenant-`+x.Tenant.ID+`.json"`)
	writeJSON(w, http.StatusOK, out)
}

// apiBeginSupport checks that tenant id's support grant is in force for
// the caller, recording her first use of it, and answers the grant.
func (s *Server) apiBeginSupport(w http.ResponseWriter, r *http.Request, p *principal) {
	if _, _, err := s.plat.SupportAccess(r.Context(), p.domainActor(), r.PathValue("id")); err != nil {
		writeError(w, supportStatus(err), "support", "support access to %s: %s", r.PathValue("id"), supportRefusal(err))
		return
	}
	t, err := s.plat.TenantUsage(r.Context(), p.domainActor(), r.PathValue("id"))
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, supportGrantOf(t.Support, s.now()))
}

func (s *Server) apiGetSupport(w http.ResponseWriter, r *http.Request, p *principal) {
	g, err := s.plat.SupportGrant(r.Context(), p.domainActor())
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	if sg := supportGrantOf(g, s.now()); sg != nil {
		writeJSON(w, http.StatusOK, sg)
		return
	}
	writeError(w, http.StatusNotFound, "not_found", "no support access is granted")
}

type supportRequest struct {
	Role domain.Role `json:"role"`
	// Duration is a Go duration from 15m to 168h.
	Duration string `json:"duration"`
}

func (s *Server) apiGrantSupport(w http.ResponseWriter, r *http.Request, p *principal) {
	var req supportRequest
	if !decode(w, r, &req) {
		return
	}
	d, err := time.ParseDuration(req.Duration)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "duration: %q is not a duration such as 4h", req.Duration)
		return
	}
	g, err := s.plat.GrantSupport(r.Context(), p.domainActor(), req.Role, d)
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, supportGrantOf(g, s.now()))
}

func (s *Server) apiRevokeSupport(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := s.plat.RevokeSupport(r.Context(), p.domainActor()); err != nil {
		s.writeProblem(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

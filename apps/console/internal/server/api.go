package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/policy"
)

func (s *Server) apiRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/openapi.json", perm: permPublic, h: s.apiOpenAPI},
		{method: "GET", path: "/api/v1/me", perm: permSelf, h: s.apiMe},
		{method: "POST", path: "/api/v1/me/totp", perm: permSelf, h: s.apiTOTPStart},
		{method: "POST", path: "/api/v1/me/totp/confirm", perm: permSelf, h: s.apiTOTPConfirm},
		{method: "POST", path: "/api/v1/me/totp/disable", perm: permSelf, h: s.apiTOTPDisable},
		{method: "POST", path: "/api/v1/me/password", perm: permSelf, h: s.apiChangePassword},
		{method: "POST", path: "/api/v1/me/devices", perm: permSelf, h: s.apiSelfEnrol},
		{method: "POST", path: "/api/v1/me/devices/{id}/renew", perm: permSelf, h: s.apiSelfRenew},

		{method: "GET", path: "/api/v1/users", perm: permRead, h: s.apiListUsers},
		{method: "POST", path: "/api/v1/users", perm: permAdmin, h: s.apiCreateUser},
		{method: "GET", path: "/api/v1/users/{id}", perm: permRead, h: s.apiGetUser},
		{method: "PATCH", path: "/api/v1/users/{id}", perm: permAdmin, h: s.apiPatchUser},
		{method: "GET", path: "/api/v1/groups", perm: permRead, h: s.apiListGroups},
		{method: "PUT", path: "/api/v1/groups/{name}", perm: permAdmin, h: s.apiPutGroup},
		{method: "DELETE", path: "/api/v1/groups/{name}", perm: permAdmin, h: s.apiDeleteGroup},
		{method: "GET", path: "/api/v1/groups/{name}", perm: permRead, h: s.apiGetGroup},
		{method: "PUT", path: "/api/v1/groups/{name}/members/{user}", perm: permAdmin, h: s.apiPutMember},
		{method: "DELETE", path: "/api/v1/groups/{name}/members/{user}", perm: permAdmin, h: s.apiDeleteMember},

		{method: "GET", path: "/api/v1/devices", perm: permRead, h: s.apiListDevices},
		{method: "POST", path: "/api/v1/devices", perm: permOps, h: s.apiEnrolDevice},
		{method: "GET", path: "/api/v1/devices/{id}", perm: permRead, h: s.apiGetDevice},
		{method: "PATCH", path: "/api/v1/devices/{id}", perm: permOps, h: s.apiPatchDevice},
		{method: "DELETE", path: "/api/v1/devices/{id}", perm: permOps, h: s.apiDeleteDevice},

		{method: "GET", path: "/api/v1/resources", perm: permRead, h: s.apiListResources},
		{method: "GET", path: "/api/v1/resources/{name}", perm: permRead, h: s.apiGetResource},
		{method: "GET", path: "/api/v1/attachments", perm: permRead, h: s.apiAttachments},
		{method: "PUT", path: "/api/v1/resources/{name}", perm: permOps, h: s.apiPutResource},
		{method: "DELETE", path: "/api/v1/resources/{name}", perm: permOps, h: s.apiDeleteResource},

		{method: "GET", path: "/api/v1/policies", perm: permRead, h: s.apiListPolicies},
		{method: "GET", path: "/api/v1/policies/{name}", perm: permRead, h: s.apiGetPolicy},
		{method: "PUT", path: "/api/v1/policies/{name}", perm: permPolicy, draft: true, h: s.apiSavePolicy},
		{method: "DELETE", path: "/api/v1/policies/{name}", perm: permPolicy, h: s.apiDeletePolicy},
		{method: "GET", path: "/api/v1/policies/{name}/versions", perm: permRead, h: s.apiPolicyVersions},
		{method: "GET", path: "/api/v1/policies/{name}/diff", perm: permRead, h: s.apiPolicyDiff},
		{method: "POST", path: "/api/v1/policies/{name}/rollback", perm: permPolicy, h: s.apiPolicyRollback},
		{method: "POST", path: "/api/v1/policies/validate", perm: permRead, draft: true, compile: true, h: s.apiPolicyValidate},
		{method: "POST", path: "/api/v1/policies/simulate", perm: permPolicy, draft: true, compile: true, h: s.apiPolicySimulate},
		{method: "GET", path: "/api/v1/templates", perm: permRead, h: s.apiTemplates},

		{method: "GET", path: "/api/v1/gateways", perm: permRead, h: s.apiListGateways},
		{method: "GET", path: "/api/v1/settings", perm: permAdmin, h: s.apiListSettings},
		{method: "PUT", path: "/api/v1/settings/{key}", perm: permAdmin, h: s.apiPutSetting},
		{method: "GET", path: "/api/v1/settings/wireguard", perm: permRead, h: s.apiGetWGSettings},
		{method: "PUT", path: "/api/v1/settings/wireguard", perm: permAdmin, h: s.apiPutWGSettings},
		{method: "POST", path: "/api/v1/gateways", perm: permOps, h: s.apiCreateGateway},
		{method: "DELETE", path: "/api/v1/gateways/{id}", perm: permOps, h: s.apiRevokeGateway},

		{method: "GET", path: "/api/v1/alerts", perm: permRead, h: s.apiListAlerts},
		{method: "POST", path: "/api/v1/alerts/{id}/state", perm: permOps, h: s.apiAlertState},
		{method: "GET", path: "/api/v1/alerts/{id}", perm: permRead, h: s.apiGetAlert},
		{method: "GET", path: "/api/v1/analytics/summary", perm: permRead, h: s.apiSummary},
		{method: "GET", path: "/api/v1/analytics/risk", perm: permRead, h: s.apiRisk},
		{method: "GET", path: "/api/v1/analytics/detectors", perm: permRead, h: s.apiDetectorHits},

		{method: "GET", path: "/api/v1/audit", perm: permAudit, h: s.apiListAudit},
		{method: "GET", path: "/api/v1/audit/export", perm: permAudit, h: s.apiExportAudit},
		{method: "GET", path: "/api/v1/audit/verify", perm: permAudit, h: s.apiVerifyAudit},

		{method: "GET", path: "/api/v1/apikeys", perm: permAdmin, h: s.apiListKeys},
		{method: "POST", path: "/api/v1/apikeys", perm: permAdmin, h: s.apiCreateKey},
		{method: "DELETE", path: "/api/v1/apikeys/{id}", perm: permAdmin, h: s.apiRevokeKey},

		{method: "GET", path: "/api/v1/stream", perm: permRead, h: func(w http.ResponseWriter, r *http.Request, p *principal) { s.serveSSE(w, r, p, jsonEvent) }},
		{method: "GET", path: "/ws", perm: permRead, h: s.serveWS},
	}
}

// page is the list answer format.
type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func listOpts(r *http.Request) store.ListOptions {
	q := r.URL.Query()
	n, _ := strconv.Atoi(q.Get("limit"))
	return store.ListOptions{After: q.Get("cursor"), Limit: n, Query: q.Get("q")}
}

// serveList answers a list request with list's page for the request's
// cursor, limit and search; key names an item as the next cursor.
func serveList[T any](s *Server, w http.ResponseWriter, r *http.Request, list func(context.Context, store.ListOptions) ([]T, error), key func(T) string) {
	o := listOpts(r)
	items, err := list(r.Context(), o)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, pageOf(items, o, key))
}

// serveOne answers a request for the item that the path value param names.
func serveOne[T any](s *Server, w http.ResponseWriter, r *http.Request, get func(context.Context, string) (T, error), param string) {
	x, err := get(r.Context(), r.PathValue(param))
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, x)
}

func pageOf[T any](items []T, o store.ListOptions, key func(T) string) page[T] {
	p := page[T]{Items: items}
	if len(items) > 0 && len(items) == clampLimit(o.Limit) {
		p.NextCursor = key(items[len(items)-1])
	}
	return p
}

func clampLimit(n int) int {
	if n <= 0 {
		return 50
	}
	return min(n, 1000)
}

type meAnswer struct {
	ID    string      `json:"id,omitempty"`
	Email string      `json:"email,omitempty"`
	Name  string      `json:"name,omitempty"`
	Role  domain.Role `json:"role"`
	MFA   bool        `json:"mfa"`
	TOTP  bool        `json:"totp_enabled"`
	CSRF  string      `json:"csrf,omitempty"`
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request, p *principal) {
	a := meAnswer{Role: p.role}
	if p.user != nil {
		a.ID, a.Email, a.Name, a.TOTP = p.user.ID, p.user.Email, p.user.Name, p.user.TOTPEnabled
	}
	if p.session != nil {
		a.MFA, a.CSRF = p.session.MFA, p.csrf
	}
	if p.apiKey != nil {
		a.Name = p.apiKey.Name
	}
	writeJSON(w, http.StatusOK, a)
}

// errString is a request the console refuses as invalid (400), with the
// reason for the caller; storeError answers it.
type errString string

func (e errString) Error() string { return string(e) }

func (s *Server) apiListUsers(w http.ResponseWriter, r *http.Request, _ *principal) {
	serveList(s, w, r, s.st.ListUsers, func(u store.User) string { return u.ID })
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
	if len(req.Password) < 12 {
		writeError(w, http.StatusBadRequest, "invalid", "password must have at least 12 characters")
		return
	}
	if fe := validNewUser(req.Email, req.Name, req.Role); fe != nil {
		writeFieldError(w, fe)
		return
	}
	u := &store.User{Email: req.Email, Name: req.Name, Role: req.Role, Groups: req.Groups, PasswordHash: HashPassword(req.Password)}
	if err := s.st.CreateUser(r.Context(), u); err != nil {
		s.storeError(w, err)
		return
	}
	s.audit(r.Context(), p.actor(), "user.create", u.Email, "", map[string]any{"role": u.Role})
	s.changed()
	writeJSON(w, http.StatusCreated, u)
}

func (s *Server) apiGetUser(w http.ResponseWriter, r *http.Request, _ *principal) {
	serveOne(s, w, r, s.st.User, "id")
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
	if req.Password != nil && len(*req.Password) < 12 {
		writeError(w, http.StatusBadRequest, "invalid", "password must have at least 12 characters")
		return
	}
	if req.Name != nil {
		if fe := validPersonName(*req.Name); fe != nil {
			writeFieldError(w, fe)
			return
		}
	}
	if req.Role != nil {
		if fe := validRole(*req.Role); fe != nil {
			writeFieldError(w, fe)
			return
		}
	}
	var hash string
	if req.Password != nil {
		hash = HashPassword(*req.Password)
	}
	// Only the fields the patch names change, on the newest row.
	u, err := s.updateUser(r.Context(), r.PathValue("id"), func(u *store.User) (bool, error) {
		if req.Name != nil {
			u.Name = *req.Name
		}
		if req.Role != nil {
			u.Role = *req.Role
		}
		if req.Groups != nil {
			u.Groups = *req.Groups
		}
		if req.Disabled != nil {
			u.Disabled = *req.Disabled
		}
		if req.Password != nil {
			u.PasswordHash = hash
		}
		return true, nil
	})
	if err != nil {
		s.storeError(w, err)
		return
	}
	if req.Unlock {
		// The login backoff of every source ends.
		if err := s.st.ClearLoginFailures(r.Context(), u.ID, ""); err != nil {
			s.storeError(w, err)
			return
		}
	}
	if u.Disabled || req.Password != nil {
		s.st.DeleteUserSessions(r.Context(), u.ID)
	}
	// The audit log records that the password changed, never the password.
	logged := req
	if logged.Password != nil {
		logged.Password = new("(changed)")
	}
	s.audit(r.Context(), p.actor(), "user.update", u.Email, "", logged)
	s.changed()
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) apiListGroups(w http.ResponseWriter, r *http.Request, _ *principal) {
	gs, err := s.st.ListGroups(r.Context())
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, page[store.Group]{Items: gs})
}

type groupRequest struct {
	Description string `json:"description"`
}

func (s *Server) apiPutGroup(w http.ResponseWriter, r *http.Request, p *principal) {
	var req groupRequest
	if !decode(w, r, &req) {
		return
	}
	if fe := validDescription("description", req.Description); fe != nil {
		writeFieldError(w, fe)
		return
	}
	g := store.Group{Name: r.PathValue("name"), Description: req.Description}
	if err := s.st.PutGroup(r.Context(), g); err != nil {
		s.storeError(w, err)
		return
	}
	s.audit(r.Context(), p.actor(), "group.put", g.Name, "", nil)
	s.changed()
	writeJSON(w, http.StatusOK, g)
}

func (s *Server) apiDeleteGroup(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := s.st.DeleteGroup(r.Context(), r.PathValue("name")); err != nil {
		s.storeError(w, err)
		return
	}
	s.audit(r.Context(), p.actor(), "group.delete", r.PathValue("name"), "", nil)
	s.changed()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiListResources(w http.ResponseWriter, r *http.Request, _ *principal) {
	serveList(s, w, r, s.st.ListResources, func(x store.Resource) string { return x.Name })
}

func (s *Server) apiGetResource(w http.ResponseWriter, r *http.Request, _ *principal) {
	serveOne(s, w, r, s.st.Resource, "name")
}

type resourceRequest struct {
	Kind    string            `json:"kind"`
	Address string            `json:"address"`
	Port    int               `json:"port"`
	Labels  map[string]string `json:"labels"`
	Gateway string            `json:"gateway"`
	Note    string            `json:"note"`
}

var resourceKinds = map[string]bool{"tcp": true, "udp": true, "http": true, "usb": true, "serial": true}

func (s *Server) apiPutResource(w http.ResponseWriter, r *http.Request, p *principal) {
	var req resourceRequest
	if !decode(w, r, &req) {
		return
	}
	if !resourceKinds[req.Kind] || req.Port < 0 || req.Port > 65535 {
		writeError(w, http.StatusBadRequest, "invalid", "kind must be tcp, udp, http, usb or serial and port 0-65535")
		return
	}
	req.Address = strings.TrimSpace(req.Address)
	if fe := validateResource(r.PathValue("name"), req.Kind, req.Address, req.Port); fe != nil {
		writeFieldError(w, fe)
		return
	}
	if fe := validLabels("labels", req.Labels); fe != nil {
		writeFieldError(w, fe)
		return
	}
	if fe := validDescription("note", req.Note); fe != nil {
		writeFieldError(w, fe)
		return
	}
	x := &store.Resource{Name: r.PathValue("name"), Kind: req.Kind, Address: req.Address, Port: req.Port, Labels: req.Labels, Gateway: req.Gateway, Note: req.Note}
	if err := s.st.PutResource(r.Context(), x); err != nil {
		s.storeError(w, err)
		return
	}
	s.audit(r.Context(), p.actor(), "resource.put", x.Name, "", req)
	s.changed()
	writeJSON(w, http.StatusOK, x)
}

func (s *Server) apiDeleteResource(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := s.st.DeleteResource(r.Context(), r.PathValue("name")); err != nil {
		s.storeError(w, err)
		return
	}
	s.audit(r.Context(), p.actor(), "resource.delete", r.PathValue("name"), "", nil)
	s.changed()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiTemplates(w http.ResponseWriter, r *http.Request, _ *principal) {
	type tmpl struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		Source      string `json:"source"`
	}
	out := []tmpl{}
	for _, t := range policy.Templates() {
		out = append(out, tmpl{t.Name, t.Description, string(t.Source)})
	}
	writeJSON(w, http.StatusOK, page[tmpl]{Items: out})
}

func (s *Server) apiListAlerts(w http.ResponseWriter, r *http.Request, _ *principal) {
	serveList(s, w, r, func(ctx context.Context, o store.ListOptions) ([]store.Alert, error) {
		return s.st.ListAlerts(ctx, r.URL.Query().Get("state"), o)
	}, func(a store.Alert) string { return a.ID })
}

type alertState struct {
	State string `json:"state"`
}

func (s *Server) apiAlertState(w http.ResponseWriter, r *http.Request, p *principal) {
	var req alertState
	if !decode(w, r, &req) {
		return
	}
	if err := s.st.SetAlertState(r.Context(), r.PathValue("id"), req.State); err != nil {
		s.storeError(w, err)
		return
	}
	s.audit(r.Context(), p.actor(), "alert."+req.State, r.PathValue("id"), "", nil)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiListKeys(w http.ResponseWriter, r *http.Request, _ *principal) {
	ks, err := s.st.ListAPIKeys(r.Context())
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, page[store.APIKey]{Items: ks})
}

type keyRequest struct {
	Name string      `json:"name"`
	Role domain.Role `json:"role"`
	// ExpiresInDays is the key's lifetime: 1 to MaxAPIKeyDays days,
	// DefaultAPIKeyDays when zero.
	ExpiresInDays int `json:"expires_in_days"`
}

type keyCreated struct {
	Key    *store.APIKey `json:"key"`
	Secret string        `json:"secret"` // shown once
}

// API keys live DefaultAPIKeyDays unless their creator asks for another
// lifetime, of at most MaxAPIKeyDays.
const (
	DefaultAPIKeyDays = 90
	MaxAPIKeyDays     = 365
)

// CreateAPIKey makes a key for role, with no owner, that expires after
// DefaultAPIKeyDays, and returns the bearer secret. It is for the
// console's own tools; keys made through the REST API always have the
// user who made them as owner.
func (s *Server) CreateAPIKey(r *http.Request, name string, role domain.Role) (*store.APIKey, string, error) {
	return s.createAPIKey(r.Context(), &store.APIKey{Name: name, Role: role, Expires: s.now().AddDate(0, 0, DefaultAPIKeyDays)})
}

// createAPIKey stores k with a fresh secret and returns the bearer
// secret.
func (s *Server) createAPIKey(ctx context.Context, k *store.APIKey) (*store.APIKey, string, error) {
	secret := randomToken()
	k.Hash = tokenHash(secret)
	if err := s.st.CreateAPIKey(ctx, k); err != nil {
		return nil, "", err
	}
	return k, "gk_" + k.ID + "." + secret, nil
}

// apiCreateKey makes a key that acts for whoever asks (see newKeyFor).
func (s *Server) apiCreateKey(w http.ResponseWriter, r *http.Request, p *principal) {
	var req keyRequest
	if !decode(w, r, &req) {
		return
	}
	k, secret, err := s.newKeyFor(r, p, req)
	var refused keyRefusal
	switch {
	case errors.As(err, &refused):
		writeError(w, refused.status, refused.code, "%s", refused.msg)
	case err != nil:
		s.storeError(w, err)
	default:
		writeJSON(w, http.StatusCreated, keyCreated{Key: k, Secret: secret})
	}
}

// keyRefusal is why newKeyFor refused a request, with its API answer.
type keyRefusal struct {
	status    int
	code, msg string
}

func (e keyRefusal) Error() string { return e.msg }

// newKeyFor makes a key that acts for p: its owner is the user asking
// (or, for a key asking, that key's owner), its role one they hold every
// permission of, and it expires no later than a key asking does.
func (s *Server) newKeyFor(r *http.Request, p *principal, req keyRequest) (*store.APIKey, string, error) {
	days := req.ExpiresInDays
	if days == 0 {
		days = DefaultAPIKeyDays
	}
	if days < 1 || days > MaxAPIKeyDays {
		return nil, "", keyRefusal{http.StatusBadRequest, "invalid", fmt.Sprintf("expires_in_days must be 1 to %d", MaxAPIKeyDays)}
	}
	if !req.Role.Valid() {
		return nil, "", keyRefusal{http.StatusBadRequest, "invalid", fmt.Sprintf("unknown role %q", req.Role)}
	}
	if !covers(p.role, req.Role) {
		return nil, "", keyRefusal{http.StatusForbidden, "forbidden", fmt.Sprintf("a key cannot have more than its owner's role (%s)", p.role)}
	}
	k := &store.APIKey{Name: req.Name, Role: req.Role, Expires: s.now().AddDate(0, 0, days)}
	switch {
	case p.user != nil:
		k.Owner = p.user.ID
	case p.apiKey != nil:
		k.Owner = p.apiKey.Owner
		if k.Expires.After(p.apiKey.Expires) {
			k.Expires = p.apiKey.Expires
		}
	}
	k, secret, err := s.createAPIKey(r.Context(), k)
	if err != nil {
		return nil, "", err
	}
	s.audit(r.Context(), p.actor(), "apikey.create", k.Name, "", map[string]any{"role": k.Role, "owner": k.Owner, "expires": k.Expires})
	return k, secret, nil
}

func (s *Server) apiRevokeKey(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := s.st.RevokeAPIKey(r.Context(), r.PathValue("id")); err != nil {
		s.storeError(w, err)
		return
	}
	s.audit(r.Context(), p.actor(), "apikey.revoke", r.PathValue("id"), "", nil)
	w.WriteHeader(http.StatusNoContent)
}

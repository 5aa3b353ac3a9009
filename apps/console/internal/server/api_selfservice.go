package server

import (
	"errors"
	"net/http"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// Self-service: every user, whatever their console role, enrols their own
// devices and renews their devices' sessions. A renewal needs a session
// that was opened with MFA; it is what sets the device's MFA time, from
// which gateways derive subject.mfa and subject.auth_time. The rules are
// the domain's (EnrolOwnDevice, RenewOwnDevice).

type selfEnrol struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
}

// apiSelfServiceRoutes are the caller's own devices.
func (s *Server) apiSelfServiceRoutes() []route {
	return []route{
		{method: "POST", path: "/api/v1/me/devices", perm: permSelf, h: s.apiSelfEnrol},
		{method: "POST", path: "/api/v1/me/devices/{id}/renew", perm: permSelf, h: s.apiSelfRenew},
	}
}

func (s *Server) apiSelfEnrol(w http.ResponseWriter, r *http.Request, p *principal) {
	var req selfEnrol
	if !decode(w, r, &req) {
		return
	}
	if p.user == nil {
		writeError(w, http.StatusBadRequest, "invalid", "devices belong to users; API keys enrol through POST /api/v1/devices")
		return
	}
	e, err := p.dom.EnrolOwnDevice(r.Context(), p.domainActor(), domain.NewDevice{Name: req.Name, PublicKey: req.PublicKey})
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	s.changed(p.tenant)
	writeJSON(w, http.StatusCreated, apiEnrolment(e))
}

func (s *Server) apiSelfRenew(w http.ResponseWriter, r *http.Request, p *principal) {
	d, err := p.dom.RenewOwnDevice(r.Context(), p.domainActor(), r.PathValue("id"))
	switch {
	case errors.Is(err, domain.ErrRenewNeedsMFA):
		w.Header().Set("X-Gonaut-Refusal", "mfa")
		writeError(w, http.StatusForbidden, "mfa_required", "%s", err.Error())
	case errors.Is(err, domain.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "%s", err.Error())
	case err != nil:
		s.writeProblem(w, err)
	default:
		s.changed(p.tenant)
		writeJSON(w, http.StatusOK, apiDeviceOf(d))
	}
}

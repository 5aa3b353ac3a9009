package server

import (
	"errors"
	"net/http"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// Self-service: every user, whatever their console role, enrols their own
// devices and renews their devices' sessions. A renewal needs a session
// that was opened with MFA; it is what sets the device's MFA time, from
// which gateways derive subject.mfa and subject.auth_time.

type selfEnrol struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
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
	e, err := s.EnrolDevice(r, p.user.ID, req.Name, req.PublicKey, nil, p, s.deviceQuota(r))
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, e)
}

func (s *Server) apiSelfRenew(w http.ResponseWriter, r *http.Request, p *principal) {
	d, err := s.renewOwnDevice(r, p, r.PathValue("id"))
	switch {
	case errors.Is(err, errRenewNeedsMFA):
		w.Header().Set("X-Gonaut-Refusal", "mfa")
		writeError(w, http.StatusForbidden, "mfa_required", "%s", err.Error())
	case errors.Is(err, errNotYourDevice):
		writeError(w, http.StatusNotFound, "not_found", "%s", err.Error())
	case err != nil:
		s.storeError(w, err)
	default:
		writeJSON(w, http.StatusOK, d)
	}
}

var (
	errRenewNeedsMFA = errors.New("log in with your authenticator to renew a device session")
	errNotYourDevice = errors.New("no such device of yours")
)

// renewOwnDevice extends the session of p's own device id and sets its
// MFA time; p's session must have been opened with MFA.
func (s *Server) renewOwnDevice(r *http.Request, p *principal, id string) (*store.Device, error) {
	if p.user == nil || p.session == nil || !p.session.MFA {
		return nil, errRenewNeedsMFA
	}
	d, err := s.st.Device(r.Context(), id)
	if err != nil || d.Owner != p.user.ID {
		return nil, errNotYourDevice
	}
	now := s.now()
	d.SessionExpires, d.MFATime = now.Add(s.opts.DeviceSession), now
	if err := s.st.UpdateDevice(r.Context(), d); err != nil {
		return nil, err
	}
	s.audit(r.Context(), p.actor(), "device.renew", d.Name, "", map[string]string{"device": d.ID})
	s.changed()
	return d, nil
}

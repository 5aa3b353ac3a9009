package server

import "net/http"

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
	if p.user == nil || p.session == nil || !p.session.MFA {
		w.Header().Set("X-Gonaut-Refusal", "mfa")
		writeError(w, http.StatusForbidden, "mfa_required", "log in with your authenticator to renew a device session")
		return
	}
	d, err := s.st.Device(r.Context(), r.PathValue("id"))
	if err != nil || d.Owner != p.user.ID {
		writeError(w, http.StatusNotFound, "not_found", "no such device of yours")
		return
	}
	now := s.now()
	d.SessionExpires, d.MFATime = now.Add(s.opts.DeviceSession), now
	if err := s.st.UpdateDevice(r.Context(), d); err != nil {
		s.storeError(w, err)
		return
	}
	s.audit(r.Context(), p.name(), "device.renew", d.Name, "", map[string]string{"device": d.ID})
	s.changed()
	writeJSON(w, http.StatusOK, d)
}

package server

import "net/http"

// Self-service password change over HTTP (domain.Service.ChangePassword):
// every other session of the user ends.

type passwordChange struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (s *Server) apiChangePassword(w http.ResponseWriter, r *http.Request, p *principal) {
	var req passwordChange
	if !decode(w, r, &req) {
		return
	}
	if err := s.changePassword(r, p, req.CurrentPassword, req.NewPassword); err != nil {
		s.credentialError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// changePassword changes p's password, keeping the session asking.
func (s *Server) changePassword(r *http.Request, p *principal, current, next string) error {
	keep := ""
	if p.session != nil {
		keep = p.session.ID
	}
	return s.dom.ChangePassword(r.Context(), s.domainActor(r, p), current, next, keep)
}

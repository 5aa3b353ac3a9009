package server

import (
	"errors"
	"net/http"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// The caller's own account over HTTP (/api/v1/me): who they are, the
// second factor (enrolment, confirmation and turning it off, each a call
// of the domain's operation; see package domain's mfa.go for what they
// check and use up) and the password change
// (domain.Service.ChangePassword), which ends every other session of the
// user.

// credentialError answers a refused credential change.
func (s *Server) credentialError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, domain.ErrReauth):
		w.Header().Set("X-Gonaut-Refusal", "reauth")
		writeError(w, http.StatusForbidden, "reauth_failed", "give your current password and, with two-factor authentication on, a current code")
	case errors.Is(err, domain.ErrThrottled):
		writeError(w, http.StatusTooManyRequests, "throttled", "too many attempts; wait a little")
	default:
		s.writeProblem(w, err)
	}
}

type totpStart struct {
	Secret string `json:"secret"`
	URL    string `json:"url"`
	QR     string `json:"qr_png_base64"`
}

// reauthRequest proves a recent authentication: the password and, with
// two-factor authentication on, a current TOTP or recovery code.
type reauthRequest struct {
	Password string `json:"password"`
	Code     string `json:"code"`
}

// apiAccountRoutes are the caller's own account.
func (s *Server) apiAccountRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/me", perm: permSelf, h: s.apiMe},
		{method: "POST", path: "/api/v1/me/totp", perm: permSelf, h: s.apiTOTPStart},
		{method: "POST", path: "/api/v1/me/totp/confirm", perm: permSelf, h: s.apiTOTPConfirm},
		{method: "POST", path: "/api/v1/me/totp/disable", perm: permSelf, h: s.apiTOTPDisable},
		{method: "POST", path: "/api/v1/me/password", perm: permSelf, h: s.apiChangePassword},
	}
}

func (s *Server) apiTOTPStart(w http.ResponseWriter, r *http.Request, p *principal) {
	var req reauthRequest
	if r.ContentLength != 0 && !decode(w, r, &req) {
		return
	}
	ts, err := s.startTOTP(r, p, req.Password, req.Code)
	if err != nil {
		s.credentialError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ts)
}

// startTOTP starts an enrolment (domain.Service.StartTOTP) and draws
// its QR code.
func (s *Server) startTOTP(r *http.Request, p *principal, password, code string) (*totpStart, error) {
	e, err := p.dom.StartTOTP(r.Context(), p.domainActor(), password, code)
	if err != nil {
		return nil, err
	}
	qr, _ := qrPNG(e.URL, 256)
	return &totpStart{Secret: e.Secret, URL: e.URL, QR: qr}, nil
}

type codeRequest struct {
	Code string `json:"code"`
}

type recoveryAnswer struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

func (s *Server) apiTOTPConfirm(w http.ResponseWriter, r *http.Request, p *principal) {
	var req codeRequest
	if !decode(w, r, &req) {
		return
	}
	codes, err := p.dom.ConfirmTOTP(r.Context(), p.domainActor(), req.Code)
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, recoveryAnswer{RecoveryCodes: codes})
}

func (s *Server) apiTOTPDisable(w http.ResponseWriter, r *http.Request, p *principal) {
	var req reauthRequest
	if !decode(w, r, &req) {
		return
	}
	if err := p.dom.DisableTOTP(r.Context(), p.domainActor(), req.Password, req.Code); err != nil {
		s.credentialError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
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
	return p.dom.ChangePassword(r.Context(), p.domainActor(), current, next, keep)
}

package server

import (
	"errors"
	"net/http"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

func (s *Server) pageAccountRoutes() []route {
	return []route{
		pageRoute("GET", "/account", permSelf, s.pageAccount),
		pageRoute("POST", "/account/totp", permSelf, s.pageTOTPStart),
		pageRoute("POST", "/account/totp/confirm", permSelf, s.pageTOTPConfirm),
		pageRoute("POST", "/account/totp/disable", permSelf, s.pageTOTPDisable),
		pageRoute("POST", "/account/password", permSelf, s.pagePasswordChange),
	}
}

func (s *Server) pageAccount(w http.ResponseWriter, r *http.Request, p *principal) {
	a := ui.Account{Page: s.pageOf(r, p, "Account", "")}
	if p.user != nil {
		a.TOTPEnabled = p.user.TOTPEnabled
	}
	s.render(w, r, http.StatusOK, ui.AccountPage(a))
}

func (s *Server) pageTOTPStart(w http.ResponseWriter, r *http.Request, p *principal) {
	ts, err := s.startTOTP(r, p, r.PostFormValue("password"), r.PostFormValue("code"))
	if err != nil {
		s.redirect(w, r, "/account", flashError, credentialMessage(err, "could not start enrolment"))
		return
	}
	a := ui.Account{Page: s.pageOf(r, p, "Account", ""), Secret: ts.Secret, QR: ts.QR}
	s.render(w, r, http.StatusOK, ui.AccountPage(a))
}

func (s *Server) pageTOTPConfirm(w http.ResponseWriter, r *http.Request, p *principal) {
	codes, err := p.dom.ConfirmTOTP(r.Context(), p.domainActor(), r.PostFormValue("code"))
	if err != nil {
		s.redirect(w, r, "/account", flashError, credentialMessage(err, "could not confirm the authenticator"))
		return
	}
	a := ui.Account{Page: s.pageOf(r, p, "Account", ""), TOTPEnabled: true, Recovery: codes}
	s.render(w, r, http.StatusOK, ui.AccountPage(a))
}

func (s *Server) pageTOTPDisable(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := p.dom.DisableTOTP(r.Context(), p.domainActor(), r.PostFormValue("password"), r.PostFormValue("code")); err != nil {
		s.redirect(w, r, "/account", flashError, credentialMessage(err, "could not turn two-factor authentication off"))
		return
	}
	s.redirect(w, r, "/account", flashInfo, "Two-factor authentication is off.")
}

func (s *Server) pagePasswordChange(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := s.changePassword(r, p, r.PostFormValue("current_password"), r.PostFormValue("new_password")); err != nil {
		s.redirect(w, r, "/account", flashError, credentialMessage(err, "could not change the password"))
		return
	}
	s.redirect(w, r, "/account", flashInfo, "Password changed; your other sessions were ended.")
}

// credentialMessage is what an account page says about a refused
// credential change: the reason when it is the caller's, fallback when
// it is the console's.
func credentialMessage(err error, fallback string) string {
	var invalid *domain.InvalidError
	switch {
	case errors.As(err, &invalid):
		return invalid.Error()
	case errors.Is(err, domain.ErrReauth), errors.Is(err, domain.ErrThrottled):
		return err.Error()
	}
	return fallback
}

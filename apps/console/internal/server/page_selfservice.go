package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

// The Devices page's self-service forms: every user enrols their own
// devices (within the quota) and renews their sessions, as the
// /api/v1/me/devices routes do.

func (s *Server) pageSelfServiceRoutes() []route {
	return []route{
		pageRoute("POST", "/devices/mine", permSelf, s.pageSelfEnrol),
		pageRoute("POST", "/devices/mine/{id}/renew", permSelf, s.pageSelfRenew),
		pageRoute("POST", "/devices/{id}/renew", permSelf, s.pageSelfRenew),
	}
}

func (s *Server) pageSelfEnrol(w http.ResponseWriter, r *http.Request, p *principal) {
	if p.user == nil {
		s.redirect(w, r, "/devices", flashError, "not enrolled: devices belong to users; log in as the device's owner")
		return
	}
	e, err := p.dom.EnrolOwnDevice(r.Context(), p.domainActor(), domain.NewDevice{Name: r.PostFormValue("name"), PublicKey: strings.TrimSpace(r.PostFormValue("public_key"))})
	if err != nil {
		s.redirect(w, r, "/devices", flashError, "not enrolled: "+s.problemMessage(err))
		return
	}
	s.changed(p.tenant)
	s.renderDevices(w, r, p, enrolmentResult(e))
}

func (s *Server) pageSelfRenew(w http.ResponseWriter, r *http.Request, p *principal) {
	d, err := p.dom.RenewOwnDevice(r.Context(), p.domainActor(), r.PathValue("id"))
	if err != nil {
		msg := err.Error()
		if !errors.Is(err, domain.ErrForbidden) && !errors.Is(err, domain.ErrNotFound) {
			msg = s.problemMessage(err)
		}
		s.redirect(w, r, "/devices", flashError, "not renewed: "+msg)
		return
	}
	s.changed(p.tenant)
	s.redirect(w, r, "/devices", flashInfo, "Session of "+d.Name+" renewed until "+when(d.SessionExpires)+".")
}

// enrolmentResult is what the Devices page shows after an enrolment: the
// wg-quick file, its QR code and where its values came from.
func enrolmentResult(de domain.Enrolment) *ui.Result {
	e := apiEnrolment(de)
	res := &ui.Result{Title: "wg-quick configuration for " + e.Device.Name, Text: e.Config, QR: e.QR, Lines: []string{"Values used: " + e.Source}}
	if strings.Contains(e.Config, "\nDNS = ") {
		res.Lines = append(res.Lines, wgQuickUpNote)
	}
	if e.PrivateKey != "" {
		res.Title += " (contains the private key: shown once)"
	}
	return res
}

// wgQuickUpNote is shown next to a config with a DNS line.
const wgQuickUpNote = "On Linux: save it as /etc/wireguard/gonaut.conf and run sudo wg-quick up gonaut. " +
	"wg-quick sets the DNS line through resolvconf: on minimal Debian or Ubuntu, first apt install openresolv (else it fails with \"resolvconf: command not found\"), or delete the DNS line."

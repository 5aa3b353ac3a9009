package server

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

func (s *Server) pageDeviceRoutes() []route {
	return []route{
		pageRoute("GET", "/devices", permRead, s.pageDevices),
		pageRoute("POST", "/devices", permOps, s.pageDevicePost),
		pageRoute("POST", "/devices/{id}/disable", permOps, s.pageDeviceToggle(true)),
		pageRoute("POST", "/devices/{id}/enable", permOps, s.pageDeviceToggle(false)),
		pageRoute("POST", "/devices/{id}/delete", permOps, s.pageDeviceDelete),
	}
}

func (s *Server) pageDevices(w http.ResponseWriter, r *http.Request, p *principal) {
	s.renderDevices(w, r, p, nil)
}

func (s *Server) renderDevices(w http.ResponseWriter, r *http.Request, p *principal, res *ui.Result) {
	o := listOpts(r)
	// Operators and admins see every device; everybody else their own.
	a := p.domainActor()
	all := domain.SeesAllDevices(a)
	ds, err := p.dom.ListDevices(r.Context(), a, r.URL.Query().Get("owner"), o)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	heading := "Devices"
	if !all {
		heading = "Your devices"
	}
	l := ui.List{Page: s.pageOf(r, p, "Devices", "devices"), Heading: heading, Query: o.Query, Result: res,
		Table: ui.Table{Head: []string{"ID", "Name", "Owner", "Address", "Public key", "State", "Session until", "Posture"}}}
	if all {
		self := ""
		if p.user != nil {
			self = p.user.Email
		}
		l.Form = []ui.Field{{Name: "name", Label: "Device name", Required: true}, {Name: "owner", Label: "Owner (email or user id)", Value: self},
			{Name: "public_key", Label: "Public key (empty: generate a key pair)"}}
		l.Action, l.Submit, l.RowActions = "/devices", "Enrol device", []string{"disable", "enable", "renew", "delete"}
	} else if p.user != nil {
		l.Form = []ui.Field{{Name: "name", Label: "Device name", Required: true},
			{Name: "public_key", Label: "Public key (empty: generate a key pair)"}}
		l.Action, l.Submit, l.RowActions = "/devices/mine", "Enrol one of your devices", []string{"renew"}
	}
	for _, d := range ds {
		state, tone := "active", ""
		if d.Disabled {
			state, tone = "disabled", "muted"
		}
		l.Table.Rows = append(l.Table.Rows, ui.Row{ID: d.ID, Tone: tone, Cells: []string{d.ID, d.Name, d.Owner, d.Address, d.PublicKey, state, when(d.SessionExpires), ui.Pretty(d.Posture)}})
	}
	if len(ds) == clampLimit(o.Limit) {
		l.Next = nextURL("/devices", ds[len(ds)-1].ID, o)
	}
	s.render(w, r, http.StatusOK, ui.ListPage(l))
}

func (s *Server) pageDevicePost(w http.ResponseWriter, r *http.Request, p *principal) {
	e, err := p.dom.EnrolDevice(r.Context(), p.domainActor(), domain.NewDevice{Owner: r.PostFormValue("owner"),
		Name: strings.TrimSpace(r.PostFormValue("name")), PublicKey: strings.TrimSpace(r.PostFormValue("public_key"))})
	if err != nil {
		s.redirect(w, r, "/devices", flashError, "not enrolled: "+s.problemMessage(err))
		return
	}
	s.renderDevices(w, r, p, enrolmentResult(e))
}

func (s *Server) pageDeviceToggle(disable bool) func(http.ResponseWriter, *http.Request, *principal) {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		d, err := p.dom.UpdateDevice(r.Context(), p.domainActor(), r.PathValue("id"), domain.DevicePatch{Disabled: &disable})
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		s.changed(p.tenant)
		s.redirect(w, r, "/devices", flashInfo, fmt.Sprintf("Device %s %s.", d.Name, map[bool]string{true: "disabled", false: "enabled"}[disable]))
	}
}

func (s *Server) pageDeviceDelete(w http.ResponseWriter, r *http.Request, p *principal) {
	d, err := p.dom.DeleteDevice(r.Context(), p.domainActor(), r.PathValue("id"))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.changed(p.tenant)
	s.redirect(w, r, "/devices", flashInfo, "Deleted device "+d.Name+"; gateways drop it with their next bundle.")
}

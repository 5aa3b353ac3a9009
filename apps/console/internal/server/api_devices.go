package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// The devices over the REST API: list, read, enrol, change and delete
// (the operations, with who may do what to which device, are
// domain/devices.go and domain/enrolment.go; the pages are in
// page_devices.go and page_selfservice.go).

// Settings the device enrolment reads: the gateway's WireGuard endpoint
// and public key, and the tunnel's address pool.
const (
	SettingWGEndpoint  = domain.SettingWGEndpoint
	SettingWGPublicKey = domain.SettingWGPublicKey
	SettingWGNetwork   = domain.SettingWGNetwork
	SettingWGDNS       = domain.SettingWGDNS
	SettingWGAllowed   = domain.SettingWGAllowed
	SettingDeviceQuota = domain.SettingDeviceQuota
)

// Device is the API shape of a device.
type Device struct {
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	Owner          string          `json:"owner"` // user id
	PublicKey      string          `json:"public_key"`
	Address        string          `json:"address"`
	Posture        json.RawMessage `json:"posture,omitempty"`
	Disabled       bool            `json:"disabled"`
	Created        time.Time       `json:"created"`
	LastSeen       time.Time       `json:"last_seen,omitzero"`
	SessionExpires time.Time       `json:"session_expires,omitzero"`
	MFATime        time.Time       `json:"mfa_time,omitzero"`
	Network        string          `json:"network,omitempty"`
	PostureSource  string          `json:"posture_source,omitempty"`
}

func apiDeviceOf(d domain.Device) *Device {
	return &Device{ID: d.ID, Name: d.Name, Owner: d.Owner, PublicKey: d.PublicKey, Address: d.Address, Posture: d.Posture,
		Disabled: d.Disabled, Created: d.Created, LastSeen: d.LastSeen, SessionExpires: d.SessionExpires, MFATime: d.MFATime,
		Network: d.Network, PostureSource: d.PostureSource}
}

func (s *Server) apiDeviceRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/devices", perm: permRead, h: s.apiListDevices},
		{method: "POST", path: "/api/v1/devices", perm: permOps, h: s.apiEnrolDevice},
		{method: "GET", path: "/api/v1/devices/{id}", perm: permRead, h: s.apiGetDevice},
		{method: "PATCH", path: "/api/v1/devices/{id}", perm: permOps, h: s.apiPatchDevice},
		{method: "DELETE", path: "/api/v1/devices/{id}", perm: permOps, h: s.apiDeleteDevice},
	}
}

func (s *Server) apiListDevices(w http.ResponseWriter, r *http.Request, p *principal) {
	a := p.domainActor()
	serveList(s, w, r, func(ctx context.Context, o domain.ListOptions) ([]*Device, error) {
		ds, err := p.dom.ListDevices(ctx, a, r.URL.Query().Get("owner"), o)
		if err != nil || ds == nil {
			return nil, err
		}
		out := make([]*Device, len(ds))
		for i, d := range ds {
			out[i] = apiDeviceOf(d)
		}
		return out, nil
	}, func(d *Device) string { return d.ID })
}

func (s *Server) apiGetDevice(w http.ResponseWriter, r *http.Request, p *principal) {
	a := p.domainActor()
	serveOne(s, w, r, func(ctx context.Context, id string) (*Device, error) {
		d, err := p.dom.Device(ctx, a, id)
		if err != nil {
			return nil, err
		}
		return apiDeviceOf(d), nil
	}, "id")
}

type enrolRequest struct {
	Name  string `json:"name"`
	Owner string `json:"owner"` // user id or email; default: the caller
	// PublicKey is the device's WireGuard public key (base64). Empty: the
	// console generates a key pair and returns the private key once.
	PublicKey string          `json:"public_key"`
	Posture   json.RawMessage `json:"posture"`
}

// Enrolment is the answer to a device enrolment.
type Enrolment struct {
	Device *Device `json:"device"`
	// PrivateKey is set only when the console generated the key pair.
	PrivateKey string `json:"private_key,omitempty"`
	// Config is a wg-quick configuration for the device (with
	// PrivateKey filled in when known, else a placeholder).
	Config string `json:"config"`
	// QR is the configuration as a PNG QR code, base64.
	QR string `json:"qr_png_base64"`
	// Source says where the endpoint, gateway key, allowed IPs and DNS
	// came from: the console's WireGuard settings or which gateway's
	// report.
	Source string `json:"source"`
}

// apiEnrolment is e as the API answers it, with its QR code.
func apiEnrolment(e domain.Enrolment) *Enrolment {
	q, _ := qrPNG(e.Config, 320)
	return &Enrolment{Device: apiDeviceOf(e.Device), PrivateKey: e.PrivateKey, Config: e.Config, QR: q, Source: e.Source}
}

func (s *Server) apiEnrolDevice(w http.ResponseWriter, r *http.Request, p *principal) {
	var req enrolRequest
	if !decode(w, r, &req) {
		return
	}
	e, err := p.dom.EnrolDevice(r.Context(), p.domainActor(), domain.NewDevice{Owner: req.Owner, Name: req.Name, PublicKey: req.PublicKey, Posture: req.Posture})
	if errors.Is(err, domain.ErrForbidden) {
		w.Header().Set("X-Gonaut-Refusal", "owner")
	}
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	s.changed(p.tenant)
	writeJSON(w, http.StatusCreated, apiEnrolment(e))
}

type devicePatch struct {
	Name     *string          `json:"name"`
	Disabled *bool            `json:"disabled"`
	Posture  *json.RawMessage `json:"posture"`
	// RenewSession extends the device's session by the configured time.
	RenewSession bool `json:"renew_session"`
}

func (s *Server) apiPatchDevice(w http.ResponseWriter, r *http.Request, p *principal) {
	var req devicePatch
	if !decode(w, r, &req) {
		return
	}
	d, err := p.dom.UpdateDevice(r.Context(), p.domainActor(), r.PathValue("id"),
		domain.DevicePatch{Name: req.Name, Disabled: req.Disabled, Posture: req.Posture, RenewSession: req.RenewSession})
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	s.changed(p.tenant)
	writeJSON(w, http.StatusOK, apiDeviceOf(d))
}

func (s *Server) apiDeleteDevice(w http.ResponseWriter, r *http.Request, p *principal) {
	if _, err := p.dom.DeleteDevice(r.Context(), p.domainActor(), r.PathValue("id")); err != nil {
		s.writeProblem(w, err)
		return
	}
	// The gateways' next bundle no longer has the device's peer.
	s.changed(p.tenant)
	w.WriteHeader(http.StatusNoContent)
}

package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/tunnel"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

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

// defaultDeviceQuota bounds self-enrolment so that one user cannot drain
// the tunnel address pool.
const defaultDeviceQuota = 5

// deviceScope is whose devices p may list and read: every device for
// operators and admins (all), otherwise only p's own (owner; "" with all
// false, for an API key without a user, means none). Pages and the API
// both ask it.
func deviceScope(p *principal) (owner string, all bool) {
	if allowed(permOps, p.role) {
		return "", true
	}
	if p.user != nil {
		return p.user.ID, false
	}
	return "", false
}

func (s *Server) apiListDevices(w http.ResponseWriter, r *http.Request, p *principal) {
	owner, all := deviceScope(p)
	if all {
		owner = r.URL.Query().Get("owner")
	}
	serveList(s, w, r, func(ctx context.Context, o store.ListOptions) ([]store.Device, error) {
		if !all && owner == "" {
			return nil, nil
		}
		return s.st.ListDevices(ctx, owner, o)
	}, func(d store.Device) string { return d.ID })
}

func (s *Server) apiGetDevice(w http.ResponseWriter, r *http.Request, p *principal) {
	owner, all := deviceScope(p)
	serveOne(s, w, r, func(ctx context.Context, id string) (*store.Device, error) {
		d, err := s.st.Device(ctx, id)
		if err == nil && !all && d.Owner != owner {
			return nil, store.ErrNotFound // another's device is not there for p
		}
		return d, err
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
	Device *store.Device `json:"device"`
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

func (s *Server) apiEnrolDevice(w http.ResponseWriter, r *http.Request, p *principal) {
	var req enrolRequest
	if !decode(w, r, &req) {
		return
	}
	owner, err := s.resolveOwner(r.Context(), req.Owner, p)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "%s", err.Error())
		return
	}
	// A device is a credential of its owner: only an admin may mint one
	// for somebody else.
	if !mayEnrolFor(p, owner) {
		w.Header().Set("X-Gonaut-Refusal", "owner")
		writeError(w, http.StatusForbidden, "forbidden", "only an admin may enrol a device for another user")
		return
	}
	e, err := s.EnrolDevice(r, owner, req.Name, req.PublicKey, req.Posture, p, 0)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, e)
}

// EnrolDevice creates a device for owner, generating a key pair when
// publicKey is empty, and allocates it the lowest free address of the
// tunnel pool. quota, when positive, caps owner's devices. Posture given
// here was typed by a person and is recorded as such.
func (s *Server) EnrolDevice(r *http.Request, owner, name, publicKey string, posture json.RawMessage, p *principal, quota int) (*Enrolment, error) {
	ctx := r.Context()
	if owner == "" {
		return nil, errString("a device needs an owner")
	}
	if _, err := s.st.User(ctx, owner); err != nil {
		return nil, errString("owner " + owner + " does not exist")
	}
	var priv string
	if publicKey == "" {
		k, err := tunnel.GeneratePrivateKey()
		if err != nil {
			return nil, err
		}
		priv, publicKey = k.String(), k.PublicKey().String()
	} else if b, err := base64.StdEncoding.DecodeString(publicKey); err != nil || len(b) != 32 {
		return nil, errString("public_key must be a base64 WireGuard key (32 bytes)")
	}
	if t := bytes.TrimSpace(posture); len(t) == 0 || string(t) == "null" {
		// An absent posture (JSON null, as a request without the field
		// decodes) is no posture, and nobody asserted it.
		posture = nil
	}
	if fe := validName("name", name); fe != nil {
		return nil, fe
	}
	if fe := validPosture("posture", posture); fe != nil {
		return nil, fe
	}
	pool, err := s.addressPool(r)
	if err != nil {
		return nil, err
	}
	now := s.now()
	d := &store.Device{Name: name, Owner: owner, PublicKey: publicKey, Posture: posture, SessionExpires: now.Add(s.opts.DeviceSession)}
	if len(posture) > 0 {
		d.PostureSource = store.PosturePerson
	}
	if p != nil && p.session != nil && p.session.MFA && p.user != nil && p.user.ID == owner {
		d.MFATime = now
	}
	if err := s.st.AllocateDevice(ctx, d, pool, quota); err != nil {
		return nil, err
	}
	s.audit(ctx, p.actor(), "device.enrol", d.Name, "", map[string]string{"device": d.ID, "owner": owner, "public_key": publicKey})
	s.changed()
	cfg, source := s.wgQuick(r, d, priv)
	q, _ := qrPNG(cfg, 320)
	return &Enrolment{Device: d, PrivateKey: priv, Config: cfg, QR: q, Source: source}, nil
}

func (s *Server) setting(r *http.Request, key, def string) string {
	return s.dom.Setting(r.Context(), key, def)
}

// resolveOwner turns the owner a person typed, a user id or an email,
// into the user id a device stores; empty means the caller.
func (s *Server) resolveOwner(ctx context.Context, owner string, p *principal) (string, error) {
	owner = strings.TrimSpace(owner)
	if owner == "" {
		if p != nil && p.user != nil {
			return p.user.ID, nil
		}
		return "", errString("a device needs an owner: give a user id or email")
	}
	if u, err := s.st.User(ctx, owner); err == nil {
		return u.ID, nil
	}
	if strings.Contains(owner, "@") {
		if u, err := s.st.UserByEmail(ctx, owner); err == nil {
			return u.ID, nil
		}
	}
	return "", errString("owner " + owner + " is neither a user id nor the email of a user")
}

// mayEnrolFor reports whether p may enrol a device owned by owner: an
// admin for anyone, everybody else only for themselves.
func mayEnrolFor(p *principal, owner string) bool {
	return p.role == domain.RoleAdmin || (p.user != nil && owner == p.user.ID)
}

// addressPool is the configured tunnel address pool.
func (s *Server) addressPool(r *http.Request) (netip.Prefix, error) {
	pfx, err := netip.ParsePrefix(s.setting(r, SettingWGNetwork, "100.64.0.0/10"))
	if err != nil || !pfx.Addr().Is4() {
		return netip.Prefix{}, errString("setting " + SettingWGNetwork + " must be an IPv4 prefix")
	}
	return pfx.Masked(), nil
}

// deviceQuota is the configured self-enrolment quota.
func (s *Server) deviceQuota(r *http.Request) int {
	n, err := strconv.Atoi(s.setting(r, SettingDeviceQuota, ""))
	if err != nil {
		return defaultDeviceQuota
	}
	return n
}

// wgQuick renders d's wg-quick file and says where its gateway-side
// values came from.
func (s *Server) wgQuick(r *http.Request, d *store.Device, priv string) (string, string) {
	// The settings win; where they say nothing, the most recently seen
	// gateway's own report of its key, address and routes fills in. Every
	// value is parsed into its type before rendering: one that does not
	// parse renders as a placeholder, never as text.
	gw, gwName := s.gatewayReport(r)
	var used []string
	pick := func(what, key, reported string) string {
		if v := s.setting(r, key, ""); v != "" {
			used = append(used, what+" from the console's WireGuard settings")
			return v
		}
		if reported != "" {
			used = append(used, what+" from gateway "+gwName)
			return reported
		}
		return ""
	}
	c := wgQuickConfig{Comment: d.Name + " (" + d.ID + ")"}
	if k, err := parseWGKey(priv); err == nil {
		c.PrivateKey = &k
	}
	if a, err := netip.ParsePrefix(d.Address); err == nil {
		c.Address = a
	}
	if dns := pick("DNS", SettingWGDNS, gw.DNS); dns != "" {
		c.DNS, _ = parseAddrList(dns)
	}
	if k, err := parseWGKey(pick("public key", SettingWGPublicKey, gw.PublicKey)); err == nil {
		c.PublicKey = &k
	}
	allowed, err := parsePrefixList(pick("allowed IPs", SettingWGAllowed, strings.Join(gw.Routes, ", ")))
	if err != nil || len(allowed) == 0 {
		used = append(used, "allowed IPs: the default 100.64.0.0/10 (no setting, no gateway report)")
		allowed = []netip.Prefix{netip.MustParsePrefix("100.64.0.0/10")}
	}
	c.AllowedIPs = allowed
	if ep, err := parseWGEndpoint(pick("endpoint", SettingWGEndpoint, gw.Endpoint)); err == nil {
		c.Endpoint = &ep
	} else {
		used = append(used, "endpoint: none known yet, fill in the placeholder")
	}
	if gwName == "" {
		used = append(used, "no registered gateway has reported yet")
	}
	return c.String(), strings.Join(used, "; ")
}

// gatewayReport is the status of the registered gateway seen most
// recently that reported its WireGuard public key, and that gateway's
// name; zero if none did.
func (s *Server) gatewayReport(r *http.Request) (controlplane.Status, string) {
	gs, err := s.st.ListGateways(r.Context())
	if err != nil {
		return controlplane.Status{}, ""
	}
	var best controlplane.Status
	var name string
	var seen time.Time
	for _, g := range gs {
		var st controlplane.Status
		if g.Revoked || len(g.Status) == 0 || json.Unmarshal(g.Status, &st) != nil || st.PublicKey == "" || validateStatus(&st) != nil {
			continue
		}
		if g.LastSeen.After(seen) {
			best, name, seen = st, g.Name, g.LastSeen
		}
	}
	return best, name
}

// qrPNG renders text as a QR code PNG, base64-encoded.
func qrPNG(text string, size int) (string, error) {
	code, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return "", err
	}
	code, err = barcode.Scale(code, size, size)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, code); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
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
	d, err := s.st.Device(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	if req.Name != nil {
		if fe := validName("name", *req.Name); fe != nil {
			writeFieldError(w, fe)
			return
		}
		d.Name = *req.Name
	}
	if req.Disabled != nil {
		d.Disabled = *req.Disabled
	}
	if req.Posture != nil {
		if fe := validPosture("posture", *req.Posture); fe != nil {
			writeFieldError(w, fe)
			return
		}
		d.Posture = *req.Posture
		d.PostureSource = store.PosturePerson
	}
	if req.RenewSession {
		d.SessionExpires = s.now().Add(s.opts.DeviceSession)
	}
	if err := s.st.UpdateDevice(r.Context(), d); err != nil {
		s.storeError(w, err)
		return
	}
	s.audit(r.Context(), p.actor(), "device.update", d.Name, "", map[string]any{"device": d.ID, "change": req})
	s.changed()
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) apiDeleteDevice(w http.ResponseWriter, r *http.Request, p *principal) {
	if _, err := s.deleteDevice(r.Context(), r.PathValue("id"), p); err != nil {
		s.storeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deleteDevice removes a device, records who did, and wakes the gateways,
// whose next bundle no longer has its peer.
func (s *Server) deleteDevice(ctx context.Context, id string, p *principal) (*store.Device, error) {
	d, err := s.st.Device(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.st.DeleteDevice(ctx, id); err != nil {
		return nil, err
	}
	s.audit(ctx, p.actor(), "device.delete", d.Name, "", map[string]string{"device": d.ID, "owner": d.Owner, "public_key": d.PublicKey})
	s.changed()
	return d, nil
}

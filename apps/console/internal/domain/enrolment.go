package domain

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/tunnel"
)

// NewDevice is what a device is enrolled from.
type NewDevice struct {
	// Owner is a user id or email as a person typed it; "" is the
	// actor. EnrolOwnDevice ignores it.
	Owner string
	Name  string
	// PublicKey is the device's WireGuard public key (base64). Empty:
	// the console generates a key pair and returns the private key once.
	PublicKey string
	// Posture is what a person asserts about the device; EnrolOwnDevice
	// ignores it.
	Posture json.RawMessage
}

// Enrolment is an enrolled device with its wg-quick configuration.
type Enrolment struct {
	Device Device
	// PrivateKey is set only when the console generated the key pair.
	PrivateKey string
	// Config is a wg-quick configuration for the device (with
	// PrivateKey filled in when known, else a placeholder).
	Config string
	// Source says where the endpoint, gateway key, allowed IPs and DNS
	// came from: the console's WireGuard settings or which gateway's
	// report.
	Source string
}

// EnrolDevice enrols a device for in.Owner. A device is a credential of
// its owner: only an admin may mint one for somebody else
// (ErrEnrolForOther). There is no quota.
func (s *Service) EnrolDevice(ctx context.Context, a Actor, in NewDevice) (Enrolment, error) {
	owner, err := s.ResolveOwner(ctx, a, in.Owner)
	if err != nil {
		return Enrolment{}, err
	}
	if a.Role != RoleAdmin && !(a.isUser() && owner == a.UserID) {
		return Enrolment{}, ErrEnrolForOther
	}
	return s.enrol(ctx, a, owner, in.Name, in.PublicKey, in.Posture, 0)
}

// EnrolOwnDevice enrols a device of the signed-in actor's own, within the
// devices.quota setting; whatever her console role, every user may.
func (s *Service) EnrolOwnDevice(ctx context.Context, a Actor, in NewDevice) (Enrolment, error) {
	if !a.isUser() {
		return Enrolment{}, Invalid("", "devices belong to users; API keys enrol through POST /api/v1/devices")
	}
	return s.enrol(ctx, a, a.UserID, in.Name, in.PublicKey, nil, s.deviceQuota(ctx))
}

// enrol creates a device for owner, generating a key pair when
// publicKey is empty, and allocates it the lowest free address of the
// tunnel pool. quota, when positive, caps owner's devices. Posture given
// here was typed by a person and is recorded as such.
func (s *Service) enrol(ctx context.Context, a Actor, owner, name, publicKey string, posture json.RawMessage, quota int) (Enrolment, error) {
	if owner == "" {
		return Enrolment{}, Invalid("", "a device needs an owner")
	}
	if _, err := s.st.User(ctx, owner); err != nil {
		return Enrolment{}, Invalid("", "owner "+owner+" does not exist")
	}
	var priv string
	if publicKey == "" {
		k, err := tunnel.GeneratePrivateKey()
		if err != nil {
			return Enrolment{}, err
		}
		priv, publicKey = k.String(), k.PublicKey().String()
	} else if b, err := base64.StdEncoding.DecodeString(publicKey); err != nil || len(b) != 32 {
		return Enrolment{}, Invalid("", "public_key must be a base64 WireGuard key (32 bytes)")
	}
	if t := bytes.TrimSpace(posture); len(t) == 0 || string(t) == "null" {
		// An absent posture (JSON null, as a request without the field
		// decodes) is no posture, and nobody asserted it.
		posture = nil
	}
	if err := validName("name", name); err != nil {
		return Enrolment{}, err
	}
	if err := validPosture("posture", posture); err != nil {
		return Enrolment{}, err
	}
	pool, err := s.AddressPool(ctx)
	if err != nil {
		return Enrolment{}, err
	}
	now := s.now()
	d := &store.Device{Name: name, Owner: owner, PublicKey: publicKey, Posture: posture, SessionExpires: now.Add(s.deviceSession())}
	if len(posture) > 0 {
		d.PostureSource = PosturePerson
	}
	if a.isUser() && a.MFA && a.UserID == owner {
		d.MFATime = now
	}
	if err := s.withinQuota(ctx, quotaDevices, 1, func() error { return fromStore(s.st.AllocateDevice(ctx, d, pool, quota)) }); err != nil {
		return Enrolment{}, err
	}
	s.record(ctx, a, "device.enrol", d.Name, "", map[string]string{"device": d.ID, "owner": owner, "public_key": publicKey})
	dv := deviceOf(d)
	cfg, source := s.wgQuick(ctx, dv, priv)
	return Enrolment{Device: dv, PrivateKey: priv, Config: cfg, Source: source}, nil
}

// wgQuick renders d's wg-quick file and says where its gateway-side
// values came from.
func (s *Service) wgQuick(ctx context.Context, d Device, priv string) (string, string) {
	// The settings win; where they say nothing, the most recently seen
	// gateway's own report of its key, address and routes fills in. Every
	// value is parsed into its type before rendering: one that does not
	// parse renders as a placeholder, never as text.
	gw, gwName := s.GatewayReport(ctx)
	var used []string
	pick := func(what, key, reported string) string {
		if v := s.Setting(ctx, key, ""); v != "" {
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

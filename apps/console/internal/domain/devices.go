package domain

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// Device is a WireGuard peer enrolled for a user: its key, its tunnel
// address and what is known about its posture.
type Device struct {
	ID             string
	Name           string
	Owner          string // user id
	PublicKey      string
	Address        string
	Posture        json.RawMessage
	Disabled       bool
	Created        time.Time
	LastSeen       time.Time
	SessionExpires time.Time
	MFATime        time.Time
	// Network is the pool Address was allocated from; empty for an
	// address set by hand.
	Network string
	// PostureSource says who asserted Posture: PosturePerson or
	// PostureDevice; empty when there is no posture.
	PostureSource string
}

// Posture sources.
const (
	PosturePerson = store.PosturePerson
	PostureDevice = store.PostureDevice
)

func deviceOf(d *store.Device) Device {
	return Device{ID: d.ID, Name: d.Name, Owner: d.Owner, PublicKey: d.PublicKey, Address: d.Address, Posture: d.Posture,
		Disabled: d.Disabled, Created: d.Created, LastSeen: d.LastSeen, SessionExpires: d.SessionExpires, MFATime: d.MFATime,
		Network: d.Network, PostureSource: d.PostureSource}
}

// refusal is an error of the vocabulary (ErrNotFound, ErrForbidden) with
// words of its own for the person refused.
type refusal struct {
	kind error
	msg  string
}

func (e *refusal) Error() string { return e.msg }
func (e *refusal) Unwrap() error { return e.kind }

// The refusals of device operations.
var (
	// ErrEnrolForOther: only an admin enrols a device for another user.
	ErrEnrolForOther error = &refusal{ErrForbidden, "only an admin may enrol a device for another user"}
	// ErrRenewNeedsMFA: a device session is renewed from a session
	// opened with a second factor.
	ErrRenewNeedsMFA error = &refusal{ErrForbidden, "log in with your authenticator to renew a device session"}
	// errNotYourDevice: the device is not the actor's (or not there).
	errNotYourDevice error = &refusal{ErrNotFound, "no such device of yours"}
)

// SeesAllDevices reports whether a lists and reads every device
// (operators and admins) rather than only her own.
func SeesAllDevices(a Actor) bool { return a.Role == RoleAdmin || a.Role == RoleOperator }

// ListDevices lists the devices a may see: for operators and admins
// every device, or owner's when owner is set; for a signed-in user only
// her own, whatever owner says; for other API keys none.
func (s *Service) ListDevices(ctx context.Context, a Actor, owner string, o ListOptions) ([]Device, error) {
	if !SeesAllDevices(a) {
		if !a.isUser() {
			return nil, nil
		}
		owner = a.UserID
	}
	ds, err := s.st.ListDevices(ctx, owner, o)
	if err != nil || ds == nil {
		return nil, fromStore(err)
	}
	return valuesOf(ds, deviceOf), nil
}

// Device reads device id; another's device is not there for an actor
// who sees only her own.
func (s *Service) Device(ctx context.Context, a Actor, id string) (Device, error) {
	d, err := s.st.Device(ctx, id)
	if err != nil {
		return Device{}, fromStore(err)
	}
	if !SeesAllDevices(a) && (!a.isUser() || d.Owner != a.UserID) {
		return Device{}, ErrNotFound
	}
	return deviceOf(d), nil
}

// DevicePatch is a change to a device; nil fields stay as they are.
type DevicePatch struct {
	Name     *string
	Disabled *bool
	Posture  *json.RawMessage // set by a person: its source becomes PosturePerson
	// RenewSession extends the device's session by the configured time.
	RenewSession bool
}

// devicePatchDetail is a DevicePatch as the audit log keeps it.
type devicePatchDetail struct {
	Name         *string          `json:"name"`
	Disabled     *bool            `json:"disabled"`
	Posture      *json.RawMessage `json:"posture"`
	RenewSession bool             `json:"renew_session"`
}

// UpdateDevice changes device id.
func (s *Service) UpdateDevice(ctx context.Context, a Actor, id string, p DevicePatch) (Device, error) {
	d, err := s.st.Device(ctx, id)
	if err != nil {
		return Device{}, fromStore(err)
	}
	if p.Name != nil {
		if err := validName("name", *p.Name); err != nil {
			return Device{}, err
		}
		d.Name = *p.Name
	}
	if p.Disabled != nil {
		d.Disabled = *p.Disabled
	}
	if p.Posture != nil {
		if err := validPosture("posture", *p.Posture); err != nil {
			return Device{}, err
		}
		d.Posture = *p.Posture
		d.PostureSource = PosturePerson
	}
	if p.RenewSession {
		d.SessionExpires = s.now().Add(s.deviceSession())
	}
	if err := s.st.UpdateDevice(ctx, d); err != nil {
		return Device{}, fromStore(err)
	}
	s.record(ctx, a, "device.update", d.Name, "", map[string]any{"device": d.ID,
		"change": devicePatchDetail{Name: p.Name, Disabled: p.Disabled, Posture: p.Posture, RenewSession: p.RenewSession}})
	return deviceOf(d), nil
}

// DeleteDevice removes device id; the gateways' next bundle no longer
// has its peer.
func (s *Service) DeleteDevice(ctx context.Context, a Actor, id string) (Device, error) {
	d, err := s.st.Device(ctx, id)
	if err != nil {
		return Device{}, fromStore(err)
	}
	if err := s.st.DeleteDevice(ctx, id); err != nil {
		return Device{}, fromStore(err)
	}
	s.record(ctx, a, "device.delete", d.Name, "", map[string]string{"device": d.ID, "owner": d.Owner, "public_key": d.PublicKey})
	return deviceOf(d), nil
}

// RenewOwnDevice extends the session of the actor's own device id and
// sets its MFA time, from which gateways derive subject.mfa and
// subject.auth_time; the actor's session must have been opened with
// MFA (else ErrRenewNeedsMFA).
func (s *Service) RenewOwnDevice(ctx context.Context, a Actor, id string) (Device, error) {
	if !a.isUser() || !a.MFA {
		return Device{}, ErrRenewNeedsMFA
	}
	d, err := s.st.Device(ctx, id)
	if err != nil || d.Owner != a.UserID {
		return Device{}, errNotYourDevice
	}
	now := s.now()
	d.SessionExpires, d.MFATime = now.Add(s.deviceSession()), now
	if err := s.st.UpdateDevice(ctx, d); err != nil {
		return Device{}, fromStore(err)
	}
	s.record(ctx, a, "device.renew", d.Name, "", map[string]string{"device": d.ID})
	return deviceOf(d), nil
}

// deviceSession is how long a device session lasts.
func (s *Service) deviceSession() time.Duration {
	if s.opts.DeviceSession <= 0 {
		return 12 * time.Hour
	}
	return s.opts.DeviceSession
}

// ResolveOwner turns the owner a person typed, a user id or an email,
// into the user id a device stores; empty means the actor.
func (s *Service) ResolveOwner(ctx context.Context, a Actor, owner string) (string, error) {
	owner = strings.TrimSpace(owner)
	if owner == "" {
		if a.isUser() {
			return a.UserID, nil
		}
		return "", Invalid("", "a device needs an owner: give a user id or email")
	}
	if u, err := s.st.User(ctx, owner); err == nil {
		return u.ID, nil
	}
	if strings.Contains(owner, "@") {
		if u, err := s.st.UserByEmail(ctx, owner); err == nil {
			return u.ID, nil
		}
	}
	return "", Invalid("", "owner "+owner+" is neither a user id nor the email of a user")
}

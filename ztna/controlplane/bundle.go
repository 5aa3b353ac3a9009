package controlplane

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/gonaut/gonaut/policy"
)

// CompilePolicies parses and compiles every policy of the bundle into one
// set, running the documents' tests. A gateway applies a bundle only when
// this succeeds, and keeps enforcing its previous set otherwise, so a bad
// bundle never leaves it without policy.
func (b *Bundle) CompilePolicies(opts *policy.CompileOptions) (*policy.Set, error) {
	docs := make([]*policy.Document, 0, len(b.Policies))
	for _, p := range b.Policies {
		d, err := policy.Parse(p.Name, []byte(p.Source))
		if err != nil {
			return nil, fmt.Errorf("controlplane: bundle %d: %w", b.Version, err)
		}
		docs = append(docs, d)
	}
	s, err := policy.Compile(docs, opts)
	if err != nil {
		return nil, fmt.Errorf("controlplane: bundle %d: %w", b.Version, err)
	}
	return s, nil
}

// A Directory answers who is behind a WireGuard public key, from one
// bundle. It is immutable; build a new one for each bundle.
type Directory struct {
	devices map[string]*Device
	users   map[string]*Identity
}

// Directory indexes the bundle's devices by public key and users by id.
func (b *Bundle) Directory() *Directory {
	d := &Directory{devices: make(map[string]*Device, len(b.Devices)), users: make(map[string]*Identity, len(b.Users))}
	for i := range b.Users {
		d.users[b.Users[i].ID] = &b.Users[i]
	}
	for i := range b.Devices {
		d.devices[b.Devices[i].PublicKey] = &b.Devices[i]
	}
	return d
}

// Lookup returns the device and its owner for a public key, and whether
// the device may connect at now: it exists, is not disabled, its owner
// exists and is not disabled, and its session has not expired.
func (d *Directory) Lookup(publicKey string, now time.Time) (*Device, *Identity, bool) {
	dev := d.devices[publicKey]
	if dev == nil {
		return nil, nil, false
	}
	u := d.users[dev.Owner]
	ok := !dev.Disabled && u != nil && !u.Disabled && (dev.SessionExpires.IsZero() || now.Before(dev.SessionExpires))
	return dev, u, ok
}

// Request fills the subject and device parts of a policy request for a
// device and its owner, as the console knows them: groups, roles, MFA
// time and posture.
func Request(dev *Device, u *Identity) policy.Request {
	var r policy.Request
	if len(dev.Posture) > 0 {
		json.Unmarshal(dev.Posture, &r.Device)
	}
	// The console's record of who set the posture, never a claim
	// inside the posture itself.
	r.Device.ID, r.Device.PostureSource = dev.ID, dev.PostureSource
	if u != nil {
		r.Subject = policy.Subject{ID: u.ID, Email: u.Email, Groups: u.Groups, Roles: u.Roles}
	}
	if !dev.MFATime.IsZero() {
		r.Subject.MFA = true
		r.Subject.AuthTime = dev.MFATime
	}
	return r
}

package ztna

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/gonaut/gonaut/policy"
	"github.com/gonaut/gonaut/tunnel"
)

// Identity is who is behind a WireGuard peer: the user (policy's subject)
// and the device with its posture.
type Identity struct {
	Subject policy.Subject
	Device  policy.Device
}

// A Directory maps WireGuard peers to identities. The gateway asks it for
// every new flow and again whenever it re-decides live flows, so a change
// in the directory (a user disabled, a group removed) takes effect at the
// next re-decision: call Gateway.Reauthorize after changing it.
//
// Implementations must be safe for concurrent use. The console plugs its
// control plane in here; StaticDirectory serves a configuration file.
type Directory interface {
	// Lookup returns the identity bound to a peer's public key, or an
	// error wrapping ErrUnknownPeer when the key is unknown or disabled.
	Lookup(ctx context.Context, peer tunnel.Key) (Identity, error)

	// Peers returns the WireGuard peers the gateway's tunnel should
	// accept: one per enabled device, with its inner address.
	Peers() []tunnel.PeerConfig
}

// StaticDirectory is the standalone Directory: users and devices from a
// Config. It is immutable and safe for concurrent use; a reload builds a
// new one.
type StaticDirectory struct {
	byKey map[tunnel.Key]Identity
	peers []tunnel.PeerConfig
}

var _ Directory = (*StaticDirectory)(nil)

// NewStaticDirectory builds the directory of cfg's users and devices.
// Disabled users and devices, and devices of disabled users, are left out.
func NewStaticDirectory(cfg *Config) (*StaticDirectory, error) {
	users := make(map[string]UserConfig, len(cfg.Users))
	for _, u := range cfg.Users {
		users[u.ID] = u
	}
	d := &StaticDirectory{byKey: make(map[tunnel.Key]Identity, len(cfg.Devices))}
	for _, dc := range cfg.Devices {
		u, ok := users[dc.User]
		if !ok {
			return nil, fmt.Errorf("%w: device %q: unknown user %q", ErrInvalidConfig, dc.ID, dc.User)
		}
		if dc.Disabled || u.Disabled {
			continue
		}
		k, err := tunnel.ParseKey(dc.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("%w: device %q: %v", ErrInvalidConfig, dc.ID, err)
		}
		a, err := netip.ParseAddr(dc.Address)
		if err != nil {
			return nil, fmt.Errorf("%w: device %q: %v", ErrInvalidConfig, dc.ID, err)
		}
		d.byKey[k] = Identity{
			Subject: policy.Subject{
				ID: u.ID, Email: u.Email, Groups: u.Groups, Roles: u.Roles,
				MFA: u.MFA, Attributes: u.Attributes,
			},
			Device: policy.Device{
				ID: dc.ID, OS: dc.Posture.OS, OSVersion: dc.Posture.OSVersion,
				Managed: dc.Posture.Managed, DiskEncrypted: dc.Posture.DiskEncrypted,
				Firewall: dc.Posture.Firewall, ScreenLock: dc.Posture.ScreenLock,
				Attributes: dc.Posture.Attributes,
			},
		}
		d.peers = append(d.peers, tunnel.PeerConfig{
			PublicKey:  k,
			AllowedIPs: []netip.Prefix{netip.PrefixFrom(a, a.BitLen())},
		})
	}
	return d, nil
}

// Lookup implements Directory.
func (d *StaticDirectory) Lookup(_ context.Context, peer tunnel.Key) (Identity, error) {
	id, ok := d.byKey[peer]
	if !ok {
		return Identity{}, fmt.Errorf("%w: %s", ErrUnknownPeer, peer)
	}
	return id, nil
}

// Peers implements Directory.
func (d *StaticDirectory) Peers() []tunnel.PeerConfig {
	out := make([]tunnel.PeerConfig, len(d.peers))
	copy(out, d.peers)
	return out
}

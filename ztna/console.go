package ztna

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gonaut/gonaut/policy"
	"github.com/gonaut/gonaut/tunnel"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// ConsoleDirectory is the Directory of a gateway managed by a console: the
// users and devices of the latest control-plane bundle. Pass it as
// Options.Directory and feed it bundles with Gateway.ApplyBundle, which
// swaps it together with the bundle's policies. Safe for concurrent use.
type ConsoleDirectory struct {
	snap atomic.Pointer[consoleSnap]
	now  func() time.Time
}

var _ Directory = (*ConsoleDirectory)(nil)

// consoleSnap is one bundle's directory, immutable.
type consoleSnap struct {
	version int64
	dir     *controlplane.Directory
	keys    map[tunnel.Key]string // WireGuard key -> the bundle's key string
	peers   []tunnel.PeerConfig
	set     *policy.Set // the bundle's compiled policies; nil before the first
}

// NewConsoleDirectory returns a directory that knows nobody until the first
// bundle is applied.
func NewConsoleDirectory() *ConsoleDirectory {
	d := &ConsoleDirectory{now: time.Now}
	d.snap.Store(newConsoleSnap(&controlplane.Bundle{}))
	return d
}

// Version is the version of the bundle the directory serves (0: none yet).
func (d *ConsoleDirectory) Version() int64 { return d.snap.Load().version }

// Lookup implements Directory. A device that is disabled, whose owner is
// disabled or whose session expired is unknown.
func (d *ConsoleDirectory) Lookup(_ context.Context, peer tunnel.Key) (Identity, error) {
	s := d.snap.Load()
	ks, ok := s.keys[peer]
	if !ok {
		return Identity{}, fmt.Errorf("%w: %s", ErrUnknownPeer, peer)
	}
	dev, u, ok := s.dir.Lookup(ks, d.now())
	if !ok {
		return Identity{}, fmt.Errorf("%w: %s: device disabled or expired", ErrUnknownPeer, peer)
	}
	r := controlplane.Request(dev, u)
	return Identity{Subject: r.Subject, Device: r.Device}, nil
}

// Peers implements Directory: one peer per enabled device with a valid key
// and tunnel address.
func (d *ConsoleDirectory) Peers() []tunnel.PeerConfig {
	return append([]tunnel.PeerConfig(nil), d.snap.Load().peers...)
}

func newConsoleSnap(b *controlplane.Bundle) *consoleSnap {
	s := &consoleSnap{version: b.Version, dir: b.Directory(), keys: map[tunnel.Key]string{}}
	now := time.Now()
	for _, dev := range b.Devices {
		k, err := tunnel.ParseKey(dev.PublicKey)
		if err != nil {
			continue
		}
		s.keys[k] = dev.PublicKey
		if _, _, ok := s.dir.Lookup(dev.PublicKey, now); !ok {
			continue
		}
		p, err := parseTunnelAddr(dev.Address)
		if err != nil {
			continue
		}
		s.peers = append(s.peers, tunnel.PeerConfig{PublicKey: k, AllowedIPs: []netip.Prefix{p}})
	}
	return s
}

// consolePolicy is the policy set of the console's latest bundle when dir
// is a ConsoleDirectory that has applied one: a Reload keeps enforcing it
// rather than the configuration file's policies.
func consolePolicy(dir Directory) *policy.Set {
	if d, ok := dir.(*ConsoleDirectory); ok {
		return d.snap.Load().set
	}
	return nil
}

func parseTunnelAddr(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(p.Addr(), p.Addr().BitLen()), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ApplyBundle enforces a control-plane bundle atomically: its policies are
// compiled first (a bundle whose policies do not compile is refused and the
// running ones stay), then the directory, the tunnel's peers and the policy
// set are swapped together and live flows are re-decided, so a disabled
// device or user is cut before ApplyBundle returns. The gateway must have
// been started with d as Options.Directory.
func (g *Gateway) ApplyBundle(ctx context.Context, d *ConsoleDirectory, b *controlplane.Bundle) error {
	if g.closed.Load() {
		return ErrClosed
	}
	set, err := b.CompilePolicies(nil)
	if err != nil {
		return fmt.Errorf("ztna: %w", err)
	}
	snap := newConsoleSnap(b)
	snap.set = set
	return g.applyConsole(ctx, d, snap, set)
}

func (g *Gateway) applyConsole(ctx context.Context, d *ConsoleDirectory, snap *consoleSnap, set *policy.Set) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	st := g.state.Load()
	if st.dir != Directory(d) {
		return errors.New("ztna: apply bundle: the gateway does not use this directory")
	}
	oldPeers := st.peers()
	prev := d.snap.Swap(snap)
	newPeers := st.peers()
	for _, p := range newPeers {
		if err := g.tun.SetPeer(ctx, p); err != nil {
			d.snap.Store(prev)
			return fmt.Errorf("ztna: peer %s: %w", p.PublicKey, err)
		}
	}
	g.engine.Swap(set)
	g.Reauthorize(ctx)
	g.removeStalePeers(oldPeers, newPeers)
	return nil
}

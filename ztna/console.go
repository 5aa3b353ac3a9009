package ztna

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gonaut/gonaut/policy"
	"github.com/gonaut/gonaut/tunnel"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// ConsoleOptions make a gateway managed by a console (Options.Console):
// its users, devices and policies, and resources next to its
// configuration's, come from the console's control-plane bundles instead
// of its configuration file.
type ConsoleOptions struct {
	// Client is the gateway's control-plane client, registered with the
	// console. With it, the gateway follows the console from New until
	// Close: it long-polls for bundles newer than the one it enforces and
	// applies each (a refused bundle is logged and the running one stays),
	// and pushes its ConsoleStatus after each applied bundle and every
	// Heartbeat; unless Options.Audit is set, its events go to the console
	// through a ConsoleAudit on Client. The caller keeps owning Client and
	// closes it after the gateway, so that the gateway's last events are
	// delivered. Nil: bundles come only through ApplyBundle.
	Client *controlplane.Client

	// First is a bundle New applies before it returns (the one the caller
	// fetched with Client.Bundle, typically), so that the gateway enforces
	// it from its first flow; New fails if it cannot. Nil: the gateway
	// knows nobody until the first bundle arrives.
	First *controlplane.Bundle

	// Version is the gateway software's version, reported in its status.
	Version string

	// Heartbeat is how often the status is pushed besides right after
	// each applied bundle. Default: 10s.
	Heartbeat time.Duration

	// Applied, when set, is called after each bundle that the gateway
	// received from Client, with ApplyBundle's error (nil: now enforced).
	Applied func(b *controlplane.Bundle, err error)
}

// consoleDirectory is the Directory of a gateway managed by a console:
// the users and devices of the latest bundle, which ApplyBundle swaps
// together with the bundle's policies and resources. Safe for concurrent
// use.
type consoleDirectory struct {
	snap atomic.Pointer[consoleSnap]
	// enforced is the version of the last bundle applied in full. It is
	// set only once peers, policies and resources are all in place, so
	// that neither the heartbeat nor a watcher reads a version whose
	// resources are not installed yet.
	enforced atomic.Int64
	now      func() time.Time
}

var _ Directory = (*consoleDirectory)(nil)

// consoleSnap is one bundle's directory, immutable.
type consoleSnap struct {
	version int64
	dir     *controlplane.Directory
	keys    map[tunnel.Key]string // WireGuard key -> the bundle's key string
	peers   []tunnel.PeerConfig
	set     *policy.Set // the bundle's compiled policies; nil before the first
	// resources are the bundle's resources the gateway serves, and
	// skipped why the others are not served.
	resources []ResourceConfig
	skipped   []string
}

// newConsoleDirectory returns a directory that knows nobody until the
// first bundle is applied.
func newConsoleDirectory() *consoleDirectory {
	d := &consoleDirectory{now: time.Now}
	d.snap.Store(newConsoleSnap(&controlplane.Bundle{}))
	return d
}

// version is the version of the bundle the gateway enforces in full —
// its devices, policies and resources (0: none yet, or no console).
func (d *consoleDirectory) version() int64 {
	if d == nil {
		return 0
	}
	return d.enforced.Load()
}

// Lookup implements Directory. A device that is disabled, whose owner is
// disabled or whose session expired is unknown.
func (d *consoleDirectory) Lookup(_ context.Context, peer tunnel.Key) (Identity, error) {
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
func (d *consoleDirectory) Peers() []tunnel.PeerConfig {
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
	for _, r := range b.Resources {
		rc, err := bundleResource(r)
		if err != nil {
			s.skipped = append(s.skipped, err.Error())
			continue
		}
		s.resources = append(s.resources, rc)
	}
	return s
}

// bundleResource turns a console resource into the gateway's form: its
// Address and Port are the upstream; peers reach it at an address of the
// gateway's resource range, on the same port (tcp) or on 80 (http). The
// console keeps usb and serial resources too, but a gateway serves those
// only from its configuration file or a connector, since they need a
// local device; udp is not served by the gateway. Those, and resources
// that would not validate, are skipped rather than refusing the bundle,
// so that a bad resource never holds back a revocation.
func bundleResource(r controlplane.Resource) (ResourceConfig, error) {
	rc := ResourceConfig{Name: r.Name, Kind: ResourceKind(r.Kind), Labels: r.Labels}
	switch rc.Kind {
	case KindTCP, KindHTTP:
	default:
		return rc, fmt.Errorf("resource %q: kind %q is served from the gateway's configuration, not the console", r.Name, r.Kind)
	}
	up := r.Address
	if _, _, err := net.SplitHostPort(up); err != nil || r.Port != 0 {
		port := r.Port
		if port == 0 && rc.Kind == KindHTTP {
			port = 80
		}
		up = net.JoinHostPort(r.Address, strconv.Itoa(port))
	}
	rc.Upstreams = []string{up}
	if rc.Kind == KindTCP {
		_, p, err := splitHostPort(up)
		if err != nil {
			return rc, fmt.Errorf("resource %q: address %q port %d: %v", r.Name, r.Address, r.Port, err)
		}
		rc.Port = p
	}
	check := Config{Address: "10.77.0.1/16", Resources: []ResourceConfig{rc}}
	if err := check.Validate(); err != nil {
		return rc, err
	}
	return rc, nil
}

// resources are the resources of the bundle d serves; none without a
// console.
func (d *consoleDirectory) resources() []ResourceConfig {
	if d == nil {
		return nil
	}
	return d.snap.Load().resources
}

// mergeResources returns cfg with the console's resources added, unless
// there are none. A resource of cfg wins over a console resource of the
// same name (names compare without case): the configuration file is the
// gateway operator's, and is where usb, serial and connector resources
// live. cfg is not modified.
func mergeResources(cfg *Config, console []ResourceConfig) *Config {
	if len(console) == 0 {
		return cfg
	}
	local := make(map[string]bool, len(cfg.Resources))
	for _, r := range cfg.Resources {
		local[strings.ToLower(r.Name)] = true
	}
	m := *cfg
	m.Resources = append(make([]ResourceConfig, 0, len(cfg.Resources)+len(console)), cfg.Resources...)
	for _, r := range console {
		if !local[strings.ToLower(r.Name)] {
			m.Resources = append(m.Resources, r)
		}
	}
	return &m
}

// policy is the policy set of the console's latest bundle, once one was
// applied: a Reload keeps enforcing it rather than the configuration
// file's policies. Nil without a console.
func (d *consoleDirectory) policy() *policy.Set {
	if d == nil {
		return nil
	}
	return d.snap.Load().set
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
// compiled and its resources built first (a bundle whose policies do not
// compile is refused and the running configuration stays), then the
// directory, the tunnel's peers, the policy set and the resources are
// swapped together and live flows are re-decided, so a disabled device or
// user is cut before ApplyBundle returns. The gateway must have been
// started with Options.Console; with ConsoleOptions.Client it calls
// ApplyBundle itself for every bundle the console publishes.
//
// The bundle's tcp and http resources are served next to the
// configuration's; on a name clash the configuration's resource wins.
// Resources the gateway does not take from a console (usb, serial, udp) or
// that are invalid are skipped and logged; they do not refuse the bundle.
// A later Reload of the configuration keeps the bundle's resources and
// policies.
func (g *Gateway) ApplyBundle(ctx context.Context, b *controlplane.Bundle) error {
	if g.closed.Load() {
		return ErrClosed
	}
	if g.console == nil {
		return errors.New("ztna: apply bundle: the gateway is not managed by a console (Options.Console)")
	}
	set, err := b.CompilePolicies(nil)
	if err != nil {
		return fmt.Errorf("ztna: %w", err)
	}
	snap := newConsoleSnap(b)
	snap.set = set
	for _, why := range snap.skipped {
		g.log.Info("console bundle: resource skipped", "version", b.Version, "why", why)
	}
	return g.applyConsole(ctx, snap, set)
}

func (g *Gateway) applyConsole(ctx context.Context, snap *consoleSnap, set *policy.Set) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	d := g.console
	st := g.state.Load()
	// Resources are rebuilt only when the bundle changed them, so that a
	// revocation does not reset upstream pools and health checks.
	var nst *state
	if !reflect.DeepEqual(snap.resources, d.snap.Load().resources) {
		var err error
		if nst, _, err = g.buildWith(st.local, snap.resources); err != nil {
			return fmt.Errorf("ztna: bundle %d: %w", snap.version, err)
		}
		for _, r := range snap.resources {
			if mr := nst.byName[strings.ToLower(r.Name)]; mr != nil && !reflect.DeepEqual(mr.cfg.Upstreams, r.Upstreams) {
				g.log.Warn("console bundle: resource defined in the configuration file too; the file's wins", "resource", r.Name)
			}
		}
	}
	oldPeers := st.peers()
	prev := d.snap.Swap(snap) // the directory's peers are the bundle's now
	if err := g.enforce(ctx, oldPeers, st.peers(), set, nst); err != nil {
		d.snap.Store(prev)
		return fmt.Errorf("ztna: bundle %d: %w", snap.version, err)
	}
	d.enforced.Store(snap.version)
	return nil
}

package ztna

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gonaut/gonaut/policy"
	"github.com/gonaut/gonaut/tunnel"
)

// state is everything a reload replaces at once.
type state struct {
	cfg *Config // what runs: local plus a console's resources
	// local is the configuration as given to New or Reload, before a
	// console's resources were merged in (console.go).
	local   *Config
	dir     Directory
	byDest  map[netip.AddrPort]*resource
	byName  map[string]*resource
	byAddr  map[netip.Addr]*resource // by virtual address, for Host checks
	limits  *limits
	recheck time.Duration
	// connectors by id; their values are copies
	connectors map[string]ConnectorConfig
	// The health checks of this state: they stop when a newer state is
	// installed (install waits for them) or the gateway closes.
	cancel   context.CancelFunc
	checksWG sync.WaitGroup // also counted on the gateway's wg
}

// resource is one configured resource at run time.
type resource struct {
	cfg  ResourceConfig
	addr netip.Addr
	port uint16
	pool *pool
	// keepSlashes is the resolved encoded_slashes of an http resource:
	// forward %2F and %5C instead of refusing them.
	keepSlashes bool
}

// build compiles everything a configuration describes without touching
// the running gateway: it is what makes a reload atomic.
func (g *Gateway) build(cfg *Config) (*state, *policy.Set, error) {
	return g.buildWith(cfg, g.console.resources())
}

// buildWith is build with a console's resources merged into cfg's
// (mergeResources: the configuration's win on a name clash).
func (g *Gateway) buildWith(cfg *Config, console []ResourceConfig) (*state, *policy.Set, error) {
	local := cfg
	cfg = mergeResources(cfg, console)
	set := g.console.policy() // a console-managed gateway keeps the console's policies
	if set == nil {
		var err error
		if set, err = loadPolicies(cfg); err != nil {
			return nil, nil, err
		}
	}
	dir := g.directory
	if dir == nil {
		sd, err := NewStaticDirectory(cfg)
		if err != nil {
			return nil, nil, err
		}
		dir = sd
	}
	st := &state{
		cfg: cfg, local: local, dir: dir,
		byDest:  map[netip.AddrPort]*resource{},
		byName:  map[string]*resource{},
		byAddr:  map[netip.Addr]*resource{},
		limits:  newLimits(cfg.RateLimits),
		recheck: cfg.Recheck,
	}
	if st.recheck == 0 {
		st.recheck = 500 * time.Millisecond
	}
	st.connectors = map[string]ConnectorConfig{}
	for _, c := range cfg.Connectors {
		st.connectors[c.ID] = c
	}
	if err := g.assignResources(st, cfg); err != nil {
		return nil, nil, err
	}
	return st, set, nil
}

// assignResources gives each resource its virtual address: the configured
// one, else the one it had before this reload, else the next free one.
func (g *Gateway) assignResources(st *state, cfg *Config) error {
	prev := g.state.Load()
	used := map[netip.Addr]string{g.addr: "the gateway"}
	rng := cfg.ResourceRange()
	for _, rc := range cfg.Resources {
		r := &resource{cfg: rc, port: uint16(rc.Port)}
		if r.port == 0 {
			r.port = defaultPorts[rc.Kind]
		}
		if rc.Address != "" {
			r.addr = netip.MustParseAddr(rc.Address)
		}
		st.byName[strings.ToLower(rc.Name)] = r
	}
	for _, rc := range cfg.Resources {
		r := st.byName[strings.ToLower(rc.Name)]
		if r.addr.IsValid() {
			if o, dup := used[r.addr]; dup {
				return &ConfigError{Msg: fmt.Sprintf("resource %q: address %s already used by %s", rc.Name, r.addr, o)}
			}
			used[r.addr] = rc.Name
		}
	}
	for _, rc := range cfg.Resources {
		r := st.byName[strings.ToLower(rc.Name)]
		if r.addr.IsValid() {
			continue
		}
		if prev != nil {
			if o := prev.byName[strings.ToLower(rc.Name)]; o != nil && o.cfg.Address == "" && used[o.addr] == "" {
				r.addr = o.addr
				used[r.addr] = rc.Name
				continue
			}
		}
		a := rng.Addr().Next() // skip the network address
		for ; rng.Contains(a); a = a.Next() {
			if _, taken := used[a]; !taken && (prev == nil || !prev.addrTakenByOther(a, rc.Name)) {
				break
			}
		}
		if !rng.Contains(a) {
			return &ConfigError{Msg: fmt.Sprintf("resource %q: resource_prefix %s is full", rc.Name, rng)}
		}
		r.addr = a
		used[a] = rc.Name
	}
	for _, r := range st.byName {
		dial := g.dial
		if r.cfg.Connector != "" {
			var err error
			if dial, err = g.viaConnector(st, r); err != nil {
				return err
			}
		}
		if r.cfg.Kind == KindUDP && r.cfg.IdleTimeout == 0 {
			r.cfg.IdleTimeout = DefaultUDPIdleTimeout
		}
		r.pool = newPool(r.cfg, dial)
		mode := r.cfg.EncodedSlashes
		if mode == "" {
			mode = cfg.EncodedSlashes
		}
		r.keepSlashes = mode == "keep"
		st.byDest[netip.AddrPortFrom(r.addr, r.port)] = r
		st.byAddr[r.addr] = r
		var po *resource
		if prev != nil {
			po = prev.byName[strings.ToLower(r.cfg.Name)]
		}
		if err := g.attachDevices(r, po); err != nil {
			return err
		}
	}
	return nil
}

// DefaultUDPIdleTimeout ends a UDP flow after this long without a
// datagram either way, unless the resource sets idle_timeout.
const DefaultUDPIdleTimeout = 60 * time.Second

// addrTakenByOther reports whether a resource other than name held a in
// st, so that a reload does not hand a removed resource's address to a new
// one while clients may still cache it.
func (st *state) addrTakenByOther(a netip.Addr, name string) bool {
	for n, r := range st.byName {
		if r.addr == a && n != strings.ToLower(name) {
			return true
		}
	}
	return false
}

// install makes st the running state and starts its health checks.
func (g *Gateway) install(st *state) {
	ctx, cancel := context.WithCancel(g.ctx)
	st.cancel = cancel
	client := &http.Client{Transport: g.httpT, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, r := range st.byName {
		if r.pool.hc.Interval > 0 {
			st.checksWG.Add(1)
			if !g.spawn(func() {
				defer st.checksWG.Done()
				r.pool.runChecks(ctx, client)
			}) {
				st.checksWG.Done() // closing: no checks
			}
		}
	}
	if old := g.state.Swap(st); old != nil {
		old.cancel()
		old.checksWG.Wait()
	}
}

func loadPolicies(cfg *Config) (*policy.Set, error) {
	var docs []*policy.Document
	for _, name := range cfg.PolicyTemplates {
		t, _ := policy.TemplateByName(name)
		d, err := policy.Parse("template:"+name, t.Source)
		if err != nil {
			return nil, fmt.Errorf("ztna: policy template %s: %w", name, err)
		}
		docs = append(docs, d)
	}
	paths := make([]string, len(cfg.Policies))
	for i, p := range cfg.Policies {
		paths[i] = cfg.Path(p)
	}
	if len(paths) > 0 {
		ds, err := policy.ParseFiles(paths...)
		if err != nil {
			return nil, fmt.Errorf("ztna: policies: %w", err)
		}
		docs = append(docs, ds...)
	}
	set, err := policy.Compile(docs, nil)
	if err != nil {
		return nil, fmt.Errorf("ztna: policies: %w", err)
	}
	return set, nil
}

func templateExists(name string) bool {
	_, ok := policy.TemplateByName(name)
	return ok
}

// Reload applies a new configuration atomically: policies, identities,
// resources and limits are all built first, and if any part fails the
// error is returned and the running configuration stays. The tunnel's
// peers are updated to the new directory, and live flows are re-decided
// before Reload returns; those now denied are cut. The listen port,
// private key and address cannot change without a restart.
func (g *Gateway) Reload(ctx context.Context, cfg *Config) error {
	if g.closed.Load() {
		return ErrClosed
	}
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if err := cfg.Validate(); err != nil {
		return err
	}
	old := g.state.Load()
	if gp, _ := cfg.GatewayPrefix(); gp.Addr() != g.addr {
		return &ConfigError{Msg: "address cannot change on reload; restart the gateway"}
	}
	if k, err := cfg.Key(); err != nil {
		return err
	} else if k.PublicKey() != g.tun.PublicKey() {
		return &ConfigError{Msg: "private key cannot change on reload; restart the gateway"}
	}
	st, set, err := g.build(cfg)
	if err != nil {
		return err
	}
	if err := g.enforce(ctx, old.peers(), st.peers(), set, st); err != nil {
		return fmt.Errorf("ztna: reload: %w", err)
	}
	return nil
}

// enforce is the last step of Reload and ApplyBundle, once everything
// new is built: the tunnel takes the new peers (an error here leaves the
// running configuration untouched), then the policy set and st (when not
// nil) are swapped in, live flows are re-decided, and the peers no
// longer wanted are removed after their grace. g.reloadMu must be held.
func (g *Gateway) enforce(ctx context.Context, oldPeers, newPeers []tunnel.PeerConfig, set *policy.Set, st *state) error {
	if err := g.setTunnelPeers(ctx, newPeers); err != nil {
		return err
	}
	g.engine.Swap(set)
	if st != nil {
		g.install(st)
	}
	g.Reauthorize(ctx)
	g.removeStalePeers(oldPeers, newPeers)
	return nil
}

// setTunnelPeers gives the tunnel the directory's peers in one step
// (tunnel.SetPeers), so that a set in which two devices overlap is refused
// whole with an error naming both, and an address that moved from a
// removed device to another moves at once. Other peers of the tunnel
// (removed devices within their peerGrace, peers added through the UAPI
// socket) stay, unless they hold a prefix that now belongs to a directory
// peer: that prefix's flows must be named after its new holder, and the
// old one could open nothing anyway, since the directory no longer knows
// it.
func (g *Gateway) setTunnelPeers(ctx context.Context, peers []tunnel.PeerConfig) error {
	dirPeer := make(map[tunnel.Key]bool, len(peers))
	for _, p := range peers {
		dirPeer[p.PublicKey] = true
	}
	final := slices.Clone(peers)
	for _, p := range g.tun.Config().Peers {
		if !dirPeer[p.PublicKey] && !overlapsAny(p, peers) {
			final = append(final, p)
		}
	}
	return g.tun.SetPeers(ctx, final)
}

// overlapsAny reports whether an allowed IP of p overlaps one of peers'.
func overlapsAny(p tunnel.PeerConfig, peers []tunnel.PeerConfig) bool {
	for _, q := range peers {
		for _, a := range p.AllowedIPs {
			for _, b := range q.AllowedIPs {
				if a.Overlaps(b) {
					return true
				}
			}
		}
	}
	return false
}

// peerGrace is how long a removed device's peer stays in the tunnel after
// its flows were cut, so that the resets reach it; it can open nothing new
// meanwhile, since the directory no longer knows it.
const peerGrace = 250 * time.Millisecond

// removeStalePeers removes the peers in old but not in new from the
// tunnel after peerGrace.
func (g *Gateway) removeStalePeers(old, new []tunnel.PeerConfig) {
	keep := make(map[tunnel.Key]bool, len(new))
	for _, p := range new {
		keep[p.PublicKey] = true
	}
	var gone []tunnel.Key
	for _, p := range old {
		if !keep[p.PublicKey] {
			gone = append(gone, p.PublicKey)
		}
	}
	if len(gone) == 0 {
		return
	}
	g.spawn(func() {
		select {
		case <-time.After(peerGrace):
		case <-g.ctx.Done():
			return
		}
		g.reloadMu.Lock()
		defer g.reloadMu.Unlock()
		cur := map[tunnel.Key]bool{}
		for _, p := range g.state.Load().peers() {
			cur[p.PublicKey] = true
		}
		for _, k := range gone {
			if !cur[k] { // not re-added by a later reload
				if err := g.tun.RemovePeer(k); err != nil && !errors.Is(err, tunnel.ErrUnknownPeer) {
					g.log.Warn("remove peer", "peer", k, "err", err)
				}
			}
		}
	})
}

// SetPolicy replaces the policy set and re-decides live flows.
func (g *Gateway) SetPolicy(ctx context.Context, set *policy.Set) {
	g.engine.Swap(set)
	g.Reauthorize(ctx)
}

package ztna

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/gonaut/gonaut/analytics"
	"github.com/gonaut/gonaut/policy"
	"github.com/gonaut/gonaut/tunnel"
)

// ScopeName is the instrumentation scope of the gateway's metrics and
// traces.
const ScopeName = "github.com/gonaut/gonaut/ztna"

// Options are the optional settings of a Gateway. A nil *Options is the
// zero value; New neither modifies nor keeps it.
type Options struct {
	// Logger receives one record per decision and closed flow, and
	// diagnostics. Default: discard.
	Logger *slog.Logger

	// MeterProvider and TracerProvider default to the OpenTelemetry
	// global providers.
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider

	// Directory maps peers to identities. Default: a StaticDirectory of
	// the configuration's users and devices, rebuilt on Reload.
	Directory Directory

	// Audit receives every event. Default: a FileAudit on
	// Config.AuditFile when set, else none.
	Audit AuditSink

	// Analytics observes every event and provides risk scores. Default:
	// an engine of the configuration's analytics section when enabled,
	// else none.
	Analytics *analytics.Engine

	// GeoIP resolves peers' outer addresses to country and ASN for
	// policy's source.country and source.asn. Default: the configured
	// MaxMind databases, else none.
	GeoIP analytics.GeoIP

	// Dial dials upstreams. Default: a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	// SigningKey signs the identity assertions sent to HTTP upstreams.
	// Default: a key generated at start (its public half is served as
	// JWKS).
	SigningKey ed25519.PrivateKey

	// EagerPeers is passed to the tunnel: every peer stays loaded, at
	// about 28 KiB per idle peer instead of 1 KiB. Default: false, unless
	// Config.EagerPeers.
	EagerPeers bool
}

// Gateway is the zero-trust gateway: a WireGuard tunnel whose every new
// flow is identified, enriched, decided by policy and, when allowed,
// spliced to the resource's upstream, with every decision and flow
// recorded. Live flows are re-decided when policy or identities change
// (Reload, SetPolicy, Reauthorize) and every Config.Recheck, and cut when
// now denied.
//
// All methods are safe for concurrent use.
type Gateway struct {
	tun          *tunnel.Tunnel
	engine       *policy.Engine
	log          *slog.Logger
	tracer       trace.Tracer
	metrics      *metrics
	audit        AuditSink
	ownAudit     *FileAudit
	analytics    *analytics.Engine
	risky        riskySubjects // subjects whose risk the console hears of
	ownAnalytics bool
	geo          analytics.GeoIP
	ownGeo       *analytics.MaxMind
	dial         func(ctx context.Context, network, addr string) (net.Conn, error)
	signer       *signer
	optsDir      Directory
	httpT        *http.Transport
	hproxy       *httpProxy
	addr         netip.Addr

	state    atomic.Pointer[state]
	reloadMu sync.Mutex // serialises Reload

	evw      *eventWriter
	flows    flowTable
	draining atomic.Bool
	kickc    chan struct{}

	endpoints endpointCache
	presence  presenceTable

	devMu sync.Mutex
	// guarded by devMu: USB and serial servers by resource name; they
	// outlive reloads so that devices added through the API stay.
	usb    map[string]*usbResource
	serial map[string]*serialResource

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
}

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
	cancel     context.CancelFunc // stops the health checks
	checksWG   sync.WaitGroup
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

// ResourceInfo describes a resource as peers see it.
type ResourceInfo struct {
	Name    string
	Kind    ResourceKind
	Address netip.Addr
	Port    int
}

// New starts a gateway from cfg: it loads the policies, builds the
// directory and resources, and brings up the tunnel. The caller must Close
// it.
func New(ctx context.Context, cfg *Config, opts *Options) (*Gateway, error) {
	if opts == nil {
		opts = &Options{}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	key, err := cfg.Key()
	if err != nil {
		return nil, err
	}
	gp, _ := cfg.GatewayPrefix()
	g := &Gateway{
		engine:    &policy.Engine{},
		log:       opts.Logger,
		audit:     opts.Audit,
		analytics: opts.Analytics,
		geo:       opts.GeoIP,
		dial:      opts.Dial,
		optsDir:   opts.Directory,
		addr:      gp.Addr(),
		kickc:     make(chan struct{}, 1),
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	mp := opts.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	tp := opts.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	g.tracer = tp.Tracer(ScopeName)
	g.metrics = newMetrics(mp)
	if g.dial == nil {
		d := &net.Dialer{}
		g.dial = d.DialContext
	}
	g.signer, err = newSigner(opts.SigningKey)
	if err != nil {
		return nil, err
	}
	g.flows.m = map[uint64]*liveFlow{}
	g.httpT = &http.Transport{
		DialContext:         g.dial,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		// A proxy passes the peer's Accept-Encoding through and the
		// upstream's encoding back, rather than asking for gzip and
		// decompressing on the peer's behalf.
		DisableCompression: true,
	}
	if g.audit == nil && cfg.AuditFile != "" {
		if g.ownAudit, err = OpenFileAudit(cfg.Path(cfg.AuditFile)); err != nil {
			return nil, err
		}
		g.audit = g.ownAudit
	}
	if g.geo == nil && (cfg.Analytics.GeoIPCity != "" || cfg.Analytics.GeoIPASN != "") {
		// Policy's source.country and source.asn need the databases
		// whether or not analytics runs.
		if g.ownGeo, err = analytics.OpenMaxMind(cfg.Path(cfg.Analytics.GeoIPCity), cfg.Path(cfg.Analytics.GeoIPASN)); err != nil {
			g.closeAudit()
			return nil, fmt.Errorf("ztna: geoip: %w", err)
		}
		g.geo = g.ownGeo
	}
	if g.analytics == nil && cfg.Analytics.Enabled {
		var aopts analytics.Options
		aopts.Logger = g.log
		aopts.MeterProvider = mp
		aopts.GeoIP = g.geo
		if g.analytics, err = analytics.New(&aopts); err != nil {
			g.closeAudit()
			return nil, fmt.Errorf("ztna: analytics: %w", err)
		}
		g.ownAnalytics = true
	}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	st, set, err := g.build(cfg)
	if err != nil {
		g.cancel()
		g.closeAudit()
		return nil, err
	}
	g.engine.Swap(set)
	g.hproxy = newHTTPProxy(g)
	tcfg := tunnel.Config{
		PrivateKey: key,
		ListenPort: cfg.ListenPort,
		Addresses:  []netip.Prefix{gp},
		Peers:      st.peers(),
	}
	g.startEvents()
	g.tun, err = tunnel.New(ctx, tcfg, &tunnel.Options{
		Logger: g.log, MeterProvider: mp, TracerProvider: tp,
		FlowHandler: g.handleFlow, EagerPeers: opts.EagerPeers || cfg.EagerPeers,
	})
	if err != nil {
		g.stopEvents()
		st.cancel()
		g.cancel()
		g.closeAudit()
		return nil, fmt.Errorf("ztna: tunnel: %w", err)
	}
	g.install(st)
	if err := g.startServices(); err != nil {
		g.Close()
		return nil, err
	}
	g.wg.Add(2)
	go g.recheckLoop()
	go g.presenceLoop()
	return g, nil
}

// closeAudit closes the audit file and GeoIP databases the gateway opened.
func (g *Gateway) closeAudit() {
	if g.ownAudit != nil {
		g.ownAudit.Close()
	}
	if g.ownGeo != nil {
		g.ownGeo.Close()
	}
}

// build compiles everything a configuration describes without touching
// the running gateway: it is what makes a reload atomic.
func (g *Gateway) build(cfg *Config) (*state, *policy.Set, error) {
	return g.buildWith(cfg, consoleResources(g.optsDir))
}

// buildWith is build with a console's resources merged into cfg's
// (mergeResources: the configuration's win on a name clash).
func (g *Gateway) buildWith(cfg *Config, console []ResourceConfig) (*state, *policy.Set, error) {
	local := cfg
	cfg = mergeResources(cfg, console)
	set := consolePolicy(g.optsDir)
	if set == nil {
		var err error
		if set, err = loadPolicies(cfg); err != nil {
			return nil, nil, err
		}
	}
	dir := g.optsDir
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
			cn, ok := st.connectors[r.cfg.Connector]
			if !ok {
				return &ConfigError{Msg: fmt.Sprintf("resource %q: no connector %q", r.cfg.Name, r.cfg.Connector)}
			}
			r.cfg.Labels = withLabels(r.cfg.Labels, "connector", cn.ID, "site", cn.Site)
			r.cfg.Upstreams = []string{netip.AddrPortFrom(netip.MustParseAddr(cn.Address), connectorPort(r.cfg)).String()}
			dial = g.dialTunnel
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
			go func() {
				defer st.checksWG.Done()
				r.pool.runChecks(ctx, client)
			}()
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
	if cs := consolePolicy(st.dir); cs != nil {
		set = cs // a console-managed gateway keeps the console's policies
	}
	newPeers := st.peers()
	if err := g.setTunnelPeers(ctx, newPeers); err != nil {
		return fmt.Errorf("ztna: reload: %w", err)
	}
	g.engine.Swap(set)
	g.install(st)
	g.Reauthorize(ctx)
	g.removeStalePeers(old.peers(), newPeers)
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
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
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
	}()
}

// SetPolicy replaces the policy set and re-decides live flows.
func (g *Gateway) SetPolicy(ctx context.Context, set *policy.Set) {
	g.engine.Swap(set)
	g.Reauthorize(ctx)
}

// Policy returns the engine deciding the gateway's flows.
func (g *Gateway) Policy() *policy.Engine { return g.engine }

// Tunnel returns the gateway's tunnel.
func (g *Gateway) Tunnel() *tunnel.Tunnel { return g.tun }

// PublicKey returns the gateway's WireGuard public key.
func (g *Gateway) PublicKey() tunnel.Key { return g.tun.PublicKey() }

// ListenPort returns the gateway's WireGuard UDP port.
func (g *Gateway) ListenPort() int { return g.tun.ListenPort() }

// Address returns the gateway's address inside the tunnel, where it
// serves DNS and the JWKS.
func (g *Gateway) Address() netip.Addr { return g.addr }

// Config returns the running configuration; on a gateway managed by a
// console, its Resources include the console's (see ApplyBundle).
func (g *Gateway) Config() *Config { return g.state.Load().cfg }

// Resources lists the resources and their virtual addresses.
func (g *Gateway) Resources() []ResourceInfo {
	st := g.state.Load()
	out := make([]ResourceInfo, 0, len(st.cfg.Resources))
	for _, rc := range st.cfg.Resources {
		r := st.byName[strings.ToLower(rc.Name)]
		out = append(out, ResourceInfo{Name: rc.Name, Kind: rc.Kind, Address: r.addr, Port: int(r.port)})
	}
	return out
}

// Upstreams reports the state of a resource's upstreams; nil if there is
// no such resource.
func (g *Gateway) Upstreams(name string) []UpstreamStatus {
	r := g.state.Load().byName[strings.ToLower(name)]
	if r == nil {
		return nil
	}
	return r.pool.status()
}

// ActiveFlows returns how many flows are live.
func (g *Gateway) ActiveFlows() int {
	g.flows.mu.Lock()
	defer g.flows.mu.Unlock()
	return len(g.flows.m)
}

// Ready reports whether the gateway is up and not draining.
func (g *Gateway) Ready() bool { return !g.closed.Load() && !g.draining.Load() }

// Drain stops admitting new flows and waits until the live ones end or ctx
// is done, then cuts what is left. The gateway keeps running (for
// /healthz) until Close.
func (g *Gateway) Drain(ctx context.Context) error {
	g.draining.Store(true)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for g.ActiveFlows() > 0 {
		select {
		case <-ctx.Done():
			g.flows.cutAll(fmt.Errorf("%w: gateway shutting down", ErrClosed))
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Close stops the gateway: it cuts live flows, closes the tunnel and every
// goroutine it started, and closes the audit file it opened. Calling it
// again returns nil.
func (g *Gateway) Close() error {
	if g.closed.Swap(true) {
		return nil
	}
	g.draining.Store(true)
	g.flows.cutAll(ErrClosed)
	g.cancel()
	err := g.tun.Close()
	g.hproxy.close()
	g.wg.Wait()
	if st := g.state.Load(); st != nil {
		st.checksWG.Wait()
	}
	g.httpT.CloseIdleConnections()
	g.closeDevices()
	g.stopEvents()
	if g.ownAnalytics {
		g.analytics.Close()
	}
	g.closeAudit()
	return err
}

// endpointCache remembers peers' outer endpoints, so that a flow does not
// list all peers (which the tunnel answers by formatting the whole device
// state). A peer missing from the cache, or a cache older than
// endpointMaxAge, makes the flow wait for a fresh listing: a peer's first
// flows are located like the others, never let through unlocated.
type endpointCache struct {
	refresh sync.Mutex // serialises listings; waiters reuse the one before them

	mu sync.Mutex
	// guarded by mu
	at time.Time
	m  map[tunnel.Key]netip.AddrPort
}

// endpointMaxAge bounds how stale a roaming peer's outer address may be.
const endpointMaxAge = 5 * time.Second

// lookup returns k's cached endpoint, when the cache was listed, and
// whether k is in it.
func (c *endpointCache) lookup(k tunnel.Key) (netip.AddrPort, time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ep, ok := c.m[k]
	return ep, c.at, ok
}

func (g *Gateway) endpoint(k tunnel.Key) netip.AddrPort {
	c := &g.endpoints
	asked := time.Now()
	ep, at, ok := c.lookup(k)
	switch {
	case ok && asked.Sub(at) < endpointMaxAge:
		return ep
	case ok:
		// Stale: this flow lists the peers again unless another one is
		// already doing so, in which case the old address will do.
		if !c.refresh.TryLock() {
			return ep
		}
	default:
		c.refresh.Lock()
		// A listing that started after this flow arrived knows its
		// peer, whose handshake came before the flow.
		if ep, at, ok := c.lookup(k); ok || at.After(asked) {
			c.refresh.Unlock()
			return ep
		}
	}
	defer c.refresh.Unlock()
	m := make(map[tunnel.Key]netip.AddrPort)
	now := time.Now()
	for _, p := range g.tun.Peers() {
		if p.Endpoint.IsValid() {
			m[p.PublicKey] = p.Endpoint
		}
	}
	c.mu.Lock()
	c.m, c.at = m, now
	c.mu.Unlock()
	return m[k]
}

func parseAddr(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	return netip.ParseAddr(s)
}

package ztna

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
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
	// the configuration's users and devices, rebuilt on Reload; with
	// Console, the console's (Directory must then be nil).
	Directory Directory

	// Console, when set, makes the gateway managed by a console: its
	// users, devices and policies, and resources next to the
	// configuration's, come from the console's bundles (see
	// ConsoleOptions and ApplyBundle). Default: none, the configuration
	// file is all.
	Console *ConsoleOptions

	// Audit receives every event. Default: a ConsoleAudit on
	// Console.Client when set, else a FileAudit on Config.AuditFile when
	// set, else none.
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
	// Set by New and never changed: read without a lock.
	addr      netip.Addr
	tun       *tunnel.Tunnel
	engine    *policy.Engine // swaps its policy set atomically
	log       *slog.Logger
	tracer    trace.Tracer
	metrics   *metrics
	signer    *signer
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	httpT     *http.Transport // to http upstreams, for requests and health checks
	hproxy    *httpProxy
	geo       analytics.GeoIP
	analytics *analytics.Engine
	audit     AuditSink
	directory Directory // Options.Directory or the console's; nil: a StaticDirectory of each configuration

	// A console-managed gateway's directory and options (Options.Console);
	// console is nil on a standalone gateway.
	console     *consoleDirectory
	consoleOpts ConsoleOptions

	// The running configuration: Reload and ApplyBundle build a new state
	// and swap it in whole, under reloadMu; flows Load it without a lock.
	state    atomic.Pointer[state]
	reloadMu sync.Mutex // serialises Reload, ApplyBundle and the peer removals after them

	// Live flows, and the wake-up of the loop that re-decides them.
	flows flowTable
	kickc chan struct{}

	// Events on their way to the audit sink, analytics, slog and metrics.
	evw   *eventWriter
	risky riskySubjects // subjects whose risk the console hears of

	endpoints endpointCache // peers' outer addresses, with its own locks
	presence  presenceTable // what the connectors report, with its own lock

	devMu sync.Mutex
	// guarded by devMu: USB and serial servers by resource name; they
	// outlive reloads so that devices added through the API stay.
	usb    map[string]*usbResource
	serial map[string]*serialResource

	// ctx, the goroutines and what the gateway opened: what Close ends.
	lifecycle
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
		directory: opts.Directory,
		addr:      gp.Addr(),
		kickc:     make(chan struct{}, 1),
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if c := opts.Console; c != nil {
		if g.directory != nil {
			return nil, fmt.Errorf("%w: Options.Directory and Options.Console exclude each other", ErrInvalidConfig)
		}
		g.console = newConsoleDirectory()
		g.directory = g.console
		g.consoleOpts = *c
		if g.audit == nil && c.Client != nil {
			g.audit = &ConsoleAudit{Client: c.Client}
		}
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
	g.init()
	// From here on, every failure closes what was opened so far, through
	// the same path as Close.
	fail := func(err error) (*Gateway, error) {
		g.Close()
		return nil, err
	}
	if g.audit == nil && cfg.AuditFile != "" {
		fa, err := OpenFileAudit(cfg.Path(cfg.AuditFile))
		if err != nil {
			return fail(err)
		}
		g.onClose(fa.Close)
		g.audit = fa
	}
	if g.geo == nil && (cfg.Analytics.GeoIPCity != "" || cfg.Analytics.GeoIPASN != "") {
		// Policy's source.country and source.asn need the databases
		// whether or not analytics runs.
		mm, err := analytics.OpenMaxMind(cfg.Path(cfg.Analytics.GeoIPCity), cfg.Path(cfg.Analytics.GeoIPASN))
		if err != nil {
			return fail(fmt.Errorf("ztna: geoip: %w", err))
		}
		g.onClose(mm.Close)
		g.geo = mm
	}
	if g.analytics == nil && cfg.Analytics.Enabled {
		var aopts analytics.Options
		aopts.Logger = g.log
		aopts.MeterProvider = mp
		aopts.GeoIP = g.geo
		if g.analytics, err = analytics.New(&aopts); err != nil {
			return fail(fmt.Errorf("ztna: analytics: %w", err))
		}
		g.onClose(g.analytics.Close)
	}
	// The event writer closes after everything that emits.
	g.startEvents()
	g.onClose(func() error { g.stopEvents(); return nil })
	g.onClose(func() error { g.httpT.CloseIdleConnections(); return nil })
	// Devices are opened by build and by every reload.
	g.onClose(func() error { g.closeDevices(); return nil })
	st, set, err := g.build(cfg)
	if err != nil {
		return fail(err)
	}
	g.engine.Swap(set)
	g.hproxy = newHTTPProxy(g)
	g.onClose(func() error { g.hproxy.close(); return nil })
	tcfg := tunnel.Config{
		PrivateKey: key,
		ListenPort: cfg.ListenPort,
		Addresses:  []netip.Prefix{gp},
		Peers:      st.peers(),
	}
	g.tun, err = tunnel.New(ctx, tcfg, &tunnel.Options{
		Logger: g.log, MeterProvider: mp, TracerProvider: tp,
		FlowHandler: g.handleFlow, EagerPeers: opts.EagerPeers || cfg.EagerPeers,
	})
	if err != nil {
		return fail(fmt.Errorf("ztna: tunnel: %w", err))
	}
	g.onClose(g.tun.Close)
	// Everything below runs on goroutines that stop with ctx.
	g.install(st)
	if err := g.startServices(); err != nil {
		return fail(err)
	}
	g.wg.Add(2)
	go g.recheckLoop()
	go g.presenceLoop()
	if c := g.consoleOpts; g.console != nil {
		if c.First != nil {
			if err := g.ApplyBundle(ctx, c.First); err != nil {
				return fail(fmt.Errorf("console bundle %d: %w", c.First.Version, err))
			}
		}
		if c.Client != nil {
			g.spawn(func() { g.followConsole(c) })
		}
	}
	return g, nil
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

// Close stops the gateway: it cuts live flows, waits for every goroutine
// it started (re-decisions, presence polls, health checks, DNS, JWKS, peer
// removals), then closes what it opened in reverse order of opening: the
// tunnel, the HTTP proxy, the USB and serial servers, the event writer
// once it has recorded every queued event, its own analytics, the GeoIP
// databases and the audit file. It is safe to call concurrently and
// again; later calls wait for the first and return nil.
func (g *Gateway) Close() error {
	return g.end(func() { g.flows.cutAll(ErrClosed) })
}

func parseAddr(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	return netip.ParseAddr(s)
}

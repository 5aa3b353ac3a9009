package tunnel

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Options are the optional settings of a Tunnel. A nil *Options is the
// same as the zero value. New does not modify or keep the struct.
type Options struct {
	// Logger receives wireguard-go's and the tunnel's diagnostics.
	// Default: discard.
	Logger *slog.Logger

	// MeterProvider and TracerProvider default to the OpenTelemetry global
	// providers.
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider

	// FlowHandler, when set, turns the tunnel into a gateway: the netstack
	// accepts packets for any destination address, and every new inbound
	// TCP connection or UDP flow that no Listen or ListenPacket of this
	// tunnel claims is handed to FlowHandler to accept or refuse. See
	// FlowHandler. Default: nil, such connections are reset.
	FlowHandler FlowHandler

	// UAPIName, when set, serves the standard WireGuard UAPI socket
	// /var/run/wireguard/UAPIName.sock so that `wg show UAPIName` and
	// `wg set UAPIName ...` work against the tunnel (needs write access to
	// /var/run/wireguard). Changes made with wg set apply to Config,
	// Peers and WhoIs at once. Default: no socket.
	UAPIName string

	// TCPBufferSize is the maximum TCP send and receive buffer of each
	// connection inside the tunnel, in bytes; receive buffers grow to it
	// as needed. Larger is faster on long fat paths and costs memory per
	// busy connection. Default: 4 MiB.
	TCPBufferSize int

	// DisableOffload turns off segmentation and receive offload between
	// the netstack and WireGuard (every TCP segment then crosses the stack
	// separately). It exists for measurements; leave it false.
	DisableOffload bool

	// EagerPeers loads every configured peer into WireGuard at start and
	// keeps it loaded, as stock wireguard-go does: no peer setup on the
	// first packet, but about 28 KiB per idle peer (280 MiB for 10,000).
	// Default: false, peers are loaded lazily: into WireGuard only while
	// in use — when the tunnel sends to their AllowedIPs or their
	// handshake arrives — and until they have been idle for five minutes
	// (peers with a persistent keepalive stay loaded). An idle peer then
	// costs about 1 KiB, and the first packet to or from an unloaded peer
	// costs a peer setup (tens of microseconds). Peers, Config, WhoIs and
	// the UAPI socket show every configured peer either way, with
	// statistics that add up across loads.
	EagerPeers bool

	// Bind is the UDP transport. Default: conn.NewDefaultBind(), one UDP
	// socket per address family with batched sends and receives.
	Bind conn.Bind
}

// Tunnel is a WireGuard interface with its own userspace TCP/IP stack: the
// network inside the tunnel is reachable only through its methods, with no
// TUN device, no root and no kernel module.
//
// All methods are safe for concurrent use. Dial, Listen and ListenPacket
// return standard net types that work until they or the tunnel are closed.
type Tunnel struct {
	log   *slog.Logger
	dev   *device.Device
	link  *link
	stack *stack.Stack
	bind  conn.Bind
	addrs []netip.Addr
	dns   []netip.Addr
	tel   *telemetry
	lazy  *lazyState // nil with Options.EagerPeers

	flowHandler FlowHandler
	flowCtx     context.Context
	flowCancel  context.CancelFunc
	udpPending  sync.Map     // stack.TransportEndpointID -> struct{}
	udpWaiting  atomic.Int64 // entries in udpPending
	up          atomic.Bool  // set when New has finished; read by metric callbacks

	// cfgMu serializes changes of the configuration that call into
	// wireguard-go (SetPeer, RemovePeer, lazy loads and unloads, UAPI
	// interface settings). It is taken before mu, and mu is never held
	// across a call into wireguard-go that may wait for the device's
	// goroutines: those deliver packets into the netstack, whose flow
	// interception takes mu.
	cfgMu sync.Mutex

	// rebindMu is held for writing while wireguard-go rebinds or closes
	// its UDP socket, which waits for its receive goroutines while holding
	// the device's configuration lock. The packet paths (a receive
	// goroutine, the TUN reader) load a lazy peer only if they can take a
	// read lock at once: otherwise they could wait for that configuration
	// lock forever. The packet that would have loaded the peer is then
	// dropped, and its sender retries.
	rebindMu sync.RWMutex

	mu         sync.Mutex                        // guards the fields below
	httpClient *http.Client                      // made by HTTPClient
	cfg        Config                            // the applied configuration; Peers mirror the device
	table      prefixTable                       // written only as described in flowpeer.go
	synPeer    map[stack.TransportEndpointID]Key // peers of SYNs awaiting forwardTCP's decision
	restarted  map[Key]peerStats                 // with EagerPeers: statistics of peers restarted by revokePrefixes
	leases     map[*flowLease]struct{}           // flows being handled, cut when their source leaves their peer
	closed     bool
	uapi       net.Listener
	uapiConn   net.Conn       // the UAPI client being served, if any
	uapiPath   string         // the socket file, removed at Close
	wg         sync.WaitGroup // goroutines started by the tunnel (flows, UAPI)
}

// New starts a tunnel: it binds the UDP port, configures the peers and
// brings the interface up. ctx bounds the resolution of peer endpoint host
// names. The caller must Close the tunnel.
func New(ctx context.Context, cfg Config, opts *Options) (*Tunnel, error) {
	if opts == nil {
		opts = &Options{}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.Clone()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	bufSize := opts.TCPBufferSize
	if bufSize <= 0 {
		bufSize = 4 << 20
	}
	t := &Tunnel{
		log:         log,
		flowHandler: opts.FlowHandler,
		dns:         cfg.DNS,
		bind:        opts.Bind,
		synPeer:     make(map[stack.TransportEndpointID]Key),
		leases:      make(map[*flowLease]struct{}),
		restarted:   make(map[Key]peerStats),
	}
	t.flowCtx, t.flowCancel = context.WithCancel(context.Background())
	for _, p := range cfg.Addresses {
		t.addrs = append(t.addrs, p.Addr())
	}
	var err error
	if t.tel, err = newTelemetry(opts.MeterProvider, opts.TracerProvider, t); err != nil {
		return nil, err
	}
	t.link = newLink(cfg.mtu(), !opts.DisableOffload)
	if t.stack, err = t.newStack(bufSize, opts.FlowHandler != nil); err != nil {
		t.flowCancel()
		t.tel.close()
		return nil, err
	}
	if t.bind == nil {
		t.bind = conn.NewDefaultBind()
	}
	devCfg := cfg
	if !opts.EagerPeers {
		t.lazy = &lazyState{
			loaded:   make(map[Key]time.Time),
			lastSeen: make(map[Key]netip.AddrPort),
			retired:  make(map[Key]peerStats),
		}
		t.lazy.setIdentity(cfg.PrivateKey)
		t.bind = &lazyBind{Bind: t.bind, t: t}
		dc := &destCache{t: t}
		t.link.onSend = dc.check
		if devCfg.Peers, err = t.initialPeers(ctx, &cfg); err != nil {
			t.flowCancel()
			t.stack.Close()
			t.stack.Wait()
			t.tel.close()
			return nil, err
		}
	}
	t.dev = device.NewDevice(t.link, t.bind, wgLogger(log))

	uapi, err := deviceConfig(ctx, &devCfg, true)
	if err == nil {
		err = t.dev.IpcSet(uapi)
	}
	if err == nil {
		err = t.dev.Up()
	}
	if err != nil {
		t.shutdown()
		return nil, fmt.Errorf("tunnel: configure device: %w", err)
	}
	if cfg.ListenPort == 0 {
		cfg.ListenPort = t.deviceListenPort()
	}
	t.cfg = cfg
	for _, p := range cfg.Peers {
		t.table.setPeer(p.PublicKey, nil, p.AllowedIPs)
	}
	if t.lazy != nil {
		t.wg.Add(1)
		go t.evictLoop(lazyCheckInterval)
	}
	if opts.UAPIName != "" {
		if err := t.serveUAPI(opts.UAPIName); err != nil {
			t.shutdown()
			return nil, err
		}
	}
	t.up.Store(true)
	log.Info("tunnel up", "public_key", cfg.PrivateKey.PublicKey().String(), "listen_port", cfg.ListenPort, "addresses", t.addrs)
	return t, nil
}

// PublicKey returns the tunnel's public key, which peers configure.
func (t *Tunnel) PublicKey() Key {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cfg.PrivateKey.PublicKey()
}

// Addresses returns the tunnel's own addresses inside the tunnel.
func (t *Tunnel) Addresses() []netip.Addr { return append([]netip.Addr(nil), t.addrs...) }

// ListenPort returns the UDP port the tunnel listens on.
func (t *Tunnel) ListenPort() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cfg.ListenPort
}

// Config returns the tunnel's current configuration, including peers
// added, updated or removed since New. Marshal it with MarshalText to
// export it in wg-quick format.
func (t *Tunnel) Config() Config {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cfg.Clone()
}

// HTTPClient returns an HTTP client whose connections go through the
// tunnel. Host names resolve through the tunnel's DNS servers.
func (t *Tunnel) HTTPClient() *http.Client {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.httpClient == nil {
		t.httpClient = &http.Client{Transport: &http.Transport{
			DialContext:       t.Dial,
			ForceAttemptHTTP2: true,
			MaxIdleConns:      100,
		}}
	}
	return t.httpClient
}

// Close shuts the tunnel down: it stops the UAPI socket, refuses pending
// flows, closes the WireGuard device (releasing the UDP socket) and the
// netstack, and waits for every goroutine the tunnel started. Connections
// obtained from the tunnel fail afterwards. Calling Close again returns nil.
func (t *Tunnel) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	hc := t.httpClient
	t.mu.Unlock()
	if hc != nil {
		hc.CloseIdleConnections()
	}
	t.shutdown()
	return nil
}

func (t *Tunnel) shutdown() {
	t.mu.Lock()
	t.closed = true
	u, uc := t.uapi, t.uapiConn
	t.mu.Unlock()
	if u != nil {
		u.Close()
		os.Remove(t.uapiPath)
	}
	if uc != nil {
		uc.Close()
	}
	t.flowCancel()
	t.rebindMu.Lock()
	t.dev.Close()
	t.rebindMu.Unlock()
	t.stack.Close()
	t.wg.Wait()
	t.stack.Wait()
	t.tel.close()
}

// deviceListenPort asks the device which port it bound.
func (t *Tunnel) deviceListenPort() int {
	s, err := t.dev.IpcGet()
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(s, "\n") {
		if v, ok := strings.CutPrefix(line, "listen_port="); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// wgLogger adapts slog to wireguard-go's printf-style logger. wireguard-go
// logs every dropped packet at its verbose level, which maps to Debug.
func wgLogger(l *slog.Logger) *device.Logger {
	return &device.Logger{
		Verbosef: func(format string, args ...any) {
			if l.Enabled(context.Background(), slog.LevelDebug) {
				l.Debug(fmt.Sprintf(format, args...), "component", "wireguard")
			}
		},
		Errorf: func(format string, args ...any) {
			l.Warn(fmt.Sprintf(format, args...), "component", "wireguard")
		},
	}
}

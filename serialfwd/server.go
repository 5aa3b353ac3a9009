package serialfwd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/gonaut/gonaut/internal/acceptloop"
)

// Protocol is how a connection carries the serial port.
type Protocol int

const (
	// ProtocolRFC2217 is telnet with the COM-PORT-OPTION (RFC 2217): data
	// plus remote line settings and control lines. The zero value.
	ProtocolRFC2217 Protocol = iota
	// ProtocolRaw is the bare byte stream; line settings are the port's
	// configured Mode.
	ProtocolRaw
)

func (p Protocol) String() string {
	switch p {
	case ProtocolRFC2217:
		return "rfc2217"
	case ProtocolRaw:
		return "raw"
	}
	return fmt.Sprintf("protocol(%d)", int(p))
}

// ParseProtocol parses "raw" or "rfc2217".
func ParseProtocol(s string) (Protocol, error) {
	switch s {
	case "rfc2217", "telnet":
		return ProtocolRFC2217, nil
	case "raw", "tcp":
		return ProtocolRaw, nil
	}
	return 0, fmt.Errorf("serialfwd: unknown protocol %q (want raw or rfc2217)", s)
}

// Access is how a port is shared between connections.
type Access int

const (
	// AccessExclusive gives the port to one connection; another is refused
	// with ErrPortBusy while it lasts. The zero value.
	AccessExclusive Access = iota
	// AccessExclusiveKick gives the port to the newest connection: the
	// current one ends with ErrKicked.
	AccessExclusiveKick
	// AccessShared gives the port to one writer (the first connection while
	// none holds it) and lets later connections watch read-only: they see
	// every byte from the device, their writes are dropped and their
	// RFC 2217 settings requests are answered with the current values.
	AccessShared
)

func (a Access) String() string {
	switch a {
	case AccessExclusive:
		return "exclusive"
	case AccessExclusiveKick:
		return "exclusive-kick"
	case AccessShared:
		return "shared"
	}
	return fmt.Sprintf("access(%d)", int(a))
}

// PortConfig describes one shared serial port.
type PortConfig struct {
	// Name identifies the port to Serve, ServeConn, the authorisation hook
	// and the logs. Required.
	Name string

	// Open opens the device; [SerialOpener] opens a real port. Required. It
	// is called for the first connection and again after the device
	// disappeared; the device is closed when the last connection ends.
	Open Opener

	// Mode's set fields are applied each time the device opens; zero fields
	// keep what the Opener set up (OpenSerial: its own Mode argument). Raw
	// clients get exactly that; RFC 2217 clients may change it for as long
	// as the device stays open. Default: all zero.
	Mode Mode

	// Access is the sharing mode. Default AccessExclusive.
	Access Access

	// IdleTimeout ends a session after this long without a byte either way
	// (ErrIdle). Zero means never.
	IdleTimeout time.Duration

	// SessionLog, when set, receives every byte of every session for audit.
	// Default none.
	SessionLog SessionLog

	// ModemPoll is how often the modem input lines are polled for RFC 2217
	// NOTIFY-MODEMSTATE. Default 100ms; negative disables polling. A device
	// without modem lines is polled once.
	ModemPoll time.Duration

	// ModemLines says how DTR, RTS and flow-control requests are answered:
	// see [ModemLines]. Default ModemLinesAuto: real lines where the device
	// has them, virtual ones on a pty.
	ModemLines ModemLines

	// QueueChunks bounds the device data queued for one session, in reads of
	// at most 32 KiB each. When the writer's queue is full the port stops
	// reading the device (the kernel and the line's flow control hold the
	// rest); a watcher whose queue is full ends with ErrSlowWatcher. Default
	// 64.
	QueueChunks int
}

// Authorizer decides whether a connection may use a port: a nil error
// allows, any error refuses (ServeConn returns it wrapped with ErrDenied).
// It is called once per connection, before any byte is exchanged, and
// must be safe for concurrent use.
type Authorizer func(ctx context.Context, req AuthRequest) error

// AuthRequest is what the authorisation hook decides on.
type AuthRequest struct {
	Principal any      // from WithPrincipal on the connection's ctx; nil if none
	Port      string   // PortConfig.Name
	Protocol  Protocol // how the connection speaks
	Remote    net.Addr // the connection's remote address
}

// ServerOptions configures a Server. A nil *ServerOptions is valid: all
// defaults. The Server never modifies it.
type ServerOptions struct {
	// Authorize decides each connection before any byte is exchanged; an
	// error refuses it (ServeConn returns it wrapped with ErrDenied). Default:
	// allow all — put a policy here before exposing a port.
	Authorize Authorizer

	// ConnContext derives the context of a connection accepted by Serve,
	// for example to attach with WithPrincipal the principal a TLS or
	// tunnel layer authenticated. It runs on the accepting goroutine.
	// Default: the Server's context, with no principal.
	ConnContext func(ctx context.Context, c net.Conn) context.Context

	// OnSessionEnd is called when a session ends, with why (nil when the
	// client closed). Default none.
	OnSessionEnd func(info SessionInfo, reason error)

	// Signature is the text sent to RFC 2217 clients that ask for it.
	// Default "Gonaut serialfwd".
	Signature string

	// Logger receives connection and device events. Default: discard.
	Logger *slog.Logger

	// MeterProvider provides the Server's metrics (sessions active and
	// ended, bytes each way). Default: the global provider.
	MeterProvider metric.MeterProvider
}

// Server shares serial ports over TCP in raw and RFC 2217 mode. Add ports
// with AddPort, then Serve listeners or hand it accepted connections with
// ServeConn. All methods are safe for concurrent use.
type Server struct {
	opts    ServerOptions
	log     *slog.Logger
	metrics *metrics
	// loop owns the listeners and the connections Serve accepted, so that
	// Close can stop them and wait.
	loop *acceptloop.Loop

	mu     sync.Mutex // guards the fields below
	ports  map[string]*port
	closed bool
	nextID uint64
}

// NewServer returns a Server with no ports.
func NewServer(opts *ServerOptions) *Server {
	s := &Server{ports: map[string]*port{}}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Signature == "" {
		s.opts.Signature = "Gonaut serialfwd"
	}
	s.log = s.opts.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.metrics = newMetrics(s.opts.MeterProvider)
	s.loop = acceptloop.New(&acceptloop.Options{Name: "serialfwd", ErrClosed: ErrClosed, ConnContext: s.opts.ConnContext})
	return s
}

// AddPort shares a port. The device is opened only when a client connects.
func (s *Server) AddPort(cfg PortConfig) error {
	if cfg.Name == "" || cfg.Open == nil {
		return errors.New("serialfwd: port needs a Name and an Open function")
	}
	if err := cfg.Mode.Validate(); err != nil {
		return err
	}
	if !cfg.ModemLines.valid() {
		return fmt.Errorf("serialfwd: port %q: unknown modem line mode %d", cfg.Name, cfg.ModemLines)
	}
	if cfg.ModemPoll == 0 {
		cfg.ModemPoll = 100 * time.Millisecond
	}
	if cfg.QueueChunks <= 0 {
		cfg.QueueChunks = 64
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if _, dup := s.ports[cfg.Name]; dup {
		return fmt.Errorf("serialfwd: port %q already added", cfg.Name)
	}
	s.ports[cfg.Name] = newPort(s, cfg)
	return nil
}

// Serve accepts connections on l and serves each as a session of the named
// port, with the principal that ServerOptions.ConnContext attaches to its
// context. It returns nil once the Server is closed, ErrClosed if it was
// closed already, ErrUnknownPort for a port it does not share, and the
// accept error otherwise; temporary accept errors are retried with a
// backoff. It always closes l.
func (s *Server) Serve(l net.Listener, portName string, proto Protocol) error {
	s.mu.Lock()
	_, known := s.ports[portName]
	closed := s.closed
	s.mu.Unlock()
	switch {
	case closed:
		l.Close()
		return ErrClosed
	case !known:
		l.Close()
		return fmt.Errorf("%w: %q", ErrUnknownPort, portName)
	}
	return s.loop.Serve(l, func(ctx context.Context, c net.Conn) {
		if err := s.ServeConn(ctx, c, portName, proto); err != nil {
			s.log.Debug("session ended", "port", portName, "remote", c.RemoteAddr(), "reason", err)
		}
	})
}

// ServeConn serves one already-accepted connection as a session of the
// named port and returns when it ends, with the reason: nil when the client
// closed, or an error wrapping ErrDenied, ErrPortBusy, ErrKicked,
// ErrDeviceGone, ErrDeviceUnavailable, ErrIdle, ErrSlowWatcher, ErrProtocol
// or ErrClosed. The principal the embedder authenticated travels in ctx
// ([WithPrincipal]) to the authorisation hook and the session log; cancelling
// ctx ends the session. ServeConn always closes c.
func (s *Server) ServeConn(ctx context.Context, c net.Conn, portName string, proto Protocol) error {
	s.mu.Lock()
	p := s.ports[portName]
	closed := s.closed
	s.nextID++
	id := s.nextID
	s.mu.Unlock()
	if closed {
		c.Close()
		return ErrClosed
	}
	if p == nil {
		c.Close()
		return fmt.Errorf("%w: %q", ErrUnknownPort, portName)
	}
	if proto != ProtocolRaw && proto != ProtocolRFC2217 {
		c.Close()
		return fmt.Errorf("serialfwd: unknown %v", proto)
	}
	info := SessionInfo{
		ID: id, Port: portName, Principal: PrincipalFrom(ctx), Protocol: proto,
		Remote: c.RemoteAddr(), Started: time.Now(),
	}
	if s.opts.Authorize != nil {
		req := AuthRequest{Principal: info.Principal, Port: portName, Protocol: proto, Remote: info.Remote}
		if err := s.opts.Authorize(ctx, req); err != nil {
			c.Close()
			s.log.Info("connection denied", "port", portName, "principal", info.Principal, "remote", info.Remote, "err", err)
			err = fmt.Errorf("%w: %w", ErrDenied, err)
			s.metrics.ended.Add(ctx, 1, metric.WithAttributes(attribute.String("port", portName), attribute.String("reason", reasonName(err))))
			return err
		}
	}
	err := p.serve(ctx, c, info)
	s.metrics.ended.Add(context.Background(), 1, metric.WithAttributes(attribute.String("port", portName), attribute.String("reason", reasonName(err))))
	if s.opts.OnSessionEnd != nil {
		s.opts.OnSessionEnd(info, err)
	}
	return err
}

// Close stops every listener and session, closes the devices and waits for
// every goroutine the Server started. Safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ports := make([]*port, 0, len(s.ports))
	for _, p := range s.ports {
		ports = append(ports, p)
	}
	s.mu.Unlock()
	// Serve's sessions end with their context; those of ServeConn end
	// with their port.
	s.loop.Close()
	for _, p := range ports {
		p.close()
	}
	return nil
}

// Ports returns a snapshot of the shared ports' state.
func (s *Server) Ports() []PortStatus {
	s.mu.Lock()
	ports := make([]*port, 0, len(s.ports))
	for _, p := range s.ports {
		ports = append(ports, p)
	}
	s.mu.Unlock()
	out := make([]PortStatus, 0, len(ports))
	for _, p := range ports {
		out = append(out, p.status())
	}
	return out
}

// PortStatus is a snapshot of one port.
type PortStatus struct {
	Name     string
	Open     bool // the device is open
	Mode     Mode // line settings in effect while open
	Sessions int
}

// writeFull writes all of p to w.
func writeFull(w io.Writer, p []byte) error {
	for len(p) > 0 {
		n, err := w.Write(p)
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrShortWrite
		}
		p = p[n:]
	}
	return nil
}

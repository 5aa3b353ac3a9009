package usbip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/gonaut/gonaut/internal/acceptloop"
)

// ServerOptions configures a Server. A nil *ServerOptions is the zero
// value; the server never modifies it.
type ServerOptions struct {
	// Logger receives connection events and the reason every protocol
	// violation closed a connection. Default: discard.
	Logger *slog.Logger

	// Filter is the static access control from configuration: devices
	// it does not permit are hidden from DEVLIST and refused on IMPORT.
	// Default: nil, everything permitted.
	Filter *Filter

	// Authorize is called, after Filter, for every device of every
	// DEVLIST and for every IMPORT, with the connection's principal.
	// Default: nil, everything permitted. Leaving it nil on a server
	// reachable by untrusted peers exports every device to them.
	Authorize Authorizer

	// ConnContext derives the context of a connection accepted by Serve,
	// for example to attach with WithPrincipal the principal a TLS or
	// tunnel layer authenticated. It runs on the accepting goroutine.
	// Default: the Server's context, with no principal.
	ConnContext func(ctx context.Context, c net.Conn) context.Context

	// Principal gives the identity of a connection accepted by Serve; it
	// runs before ConnContext, which sees and may replace its result.
	//
	// Deprecated: use ConnContext with WithPrincipal, the way serialfwd
	// takes it; kept until the next release.
	Principal func(net.Conn) any

	// HandshakeTimeout bounds reading the request and writing the reply
	// of the operation phase, so an idle peer cannot hold a connection.
	// Default: 10s.
	HandshakeTimeout time.Duration

	// MaxTransferSize caps transfer_buffer_length of one URB; a larger
	// one closes the connection. Default: 16 MiB.
	MaxTransferSize int

	// MaxInFlight caps the URBs one importer may have outstanding; more
	// closes the connection. Default: 1024.
	MaxInFlight int

	// MeterProvider receives the server's metrics (see ScopeName).
	// Default: the OpenTelemetry global provider.
	MeterProvider metric.MeterProvider

	// MaxInFlightBytes caps the sum of transfer_buffer_length over an
	// importer's outstanding URBs, bounding the memory a peer can make
	// the server hold. Default: 64 MiB.
	MaxInFlightBytes int
}

// Options is the former name of ServerOptions.
//
// Deprecated: use ServerOptions; kept until the next release.
type Options = ServerOptions

func (o *ServerOptions) withDefaults() ServerOptions {
	var c ServerOptions
	if o != nil {
		c = *o
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.MaxTransferSize <= 0 {
		c.MaxTransferSize = 16 << 20
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 1024
	}
	if c.MaxInFlightBytes <= 0 {
		c.MaxInFlightBytes = 64 << 20
	}
	return c
}

// Server exports devices over USB/IP. Devices come and go with Add and
// Remove at any time (hot-plug); connections arrive through Serve or,
// already accepted and authenticated by the embedder, through ServeConn.
// All methods are safe for concurrent use.
type Server struct {
	opts ServerOptions
	log  *slog.Logger
	tel  *telemetry
	// loop owns the listeners and every connection being served, so that
	// Close can stop them and wait.
	loop *acceptloop.Loop

	mu      sync.Mutex // guards the fields below
	exports map[string]*export
	nextDev uint32
	closed  bool
}

// export is one device under one bus id.
type export struct {
	busID  string
	busNum uint32
	devNum uint32
	dev    Device
	sess   *session // the importer, nil when free; guarded by Server.mu
}

// NewServer returns a server with no devices.
func NewServer(opts *ServerOptions) *Server {
	o := opts.withDefaults()
	tel, err := newTelemetry(o.MeterProvider)
	if err != nil {
		o.Logger.Warn("usbip: metrics disabled", "err", err)
		tel = noopTelemetry()
	}
	return &Server{
		opts:    o,
		log:     o.Logger,
		tel:     tel,
		loop:    acceptloop.New(&acceptloop.Options{Name: "usbip", ErrClosed: ErrClosed, ConnContext: o.connContext}),
		exports: map[string]*export{},
	}
}

// connContext derives the context of a connection Serve accepted: the
// deprecated Principal first, then ConnContext.
func (o *ServerOptions) connContext(ctx context.Context, c net.Conn) context.Context {
	if o.Principal != nil {
		ctx = WithPrincipal(ctx, o.Principal(c))
	}
	if o.ConnContext != nil {
		ctx = o.ConnContext(ctx, c)
	}
	return ctx
}

// Add exports dev under busID ("B-P", e.g. "1-2"; the bus number B is what
// clients see as busnum). An empty busID picks the next free "1-N". The
// server owns dev from now on and closes it on Remove or Close.
func (s *Server) Add(busID string, dev Device) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", ErrClosed
	}
	if busID == "" {
		for n := 1; ; n++ {
			id := "1-" + strconv.Itoa(n)
			if _, taken := s.exports[id]; !taken {
				busID = id
				break
			}
		}
	}
	if len(busID) >= busIDLen || strings.IndexByte(busID, 0) >= 0 {
		return "", fmt.Errorf("usbip: bus id %q: too long or contains NUL", busID)
	}
	if _, taken := s.exports[busID]; taken {
		return "", fmt.Errorf("%w: %s", ErrExists, busID)
	}
	busNum := uint32(1)
	if b, _, ok := strings.Cut(busID, "-"); ok {
		if n, err := strconv.ParseUint(b, 10, 16); err == nil {
			busNum = uint32(n)
		}
	}
	s.nextDev = s.nextDev%127 + 1
	s.exports[busID] = &export{busID: busID, busNum: busNum, devNum: s.nextDev, dev: dev}
	s.log.Info("usbip: device added", "busid", busID)
	return busID, nil
}

// Remove withdraws the device under busID (hot-unplug): it disappears from
// DEVLIST, its importer is disconnected, and the device is closed.
func (s *Server) Remove(busID string) error {
	s.mu.Lock()
	e, ok := s.exports[busID]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrNotFound, busID)
	}
	delete(s.exports, busID)
	sess := e.sess
	s.mu.Unlock()
	if sess != nil {
		sess.stop()
		<-sess.done
	}
	s.log.Info("usbip: device removed", "busid", busID)
	return e.dev.Close()
}

// Devices lists every exported device, unfiltered, sorted by bus id.
func (s *Server) Devices() []ExportedDevice {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listLocked()
}

func (s *Server) listLocked() []ExportedDevice {
	out := make([]ExportedDevice, 0, len(s.exports))
	for _, e := range s.exports {
		out = append(out, exportedFromInfo(e.busID, e.busNum, e.devNum, e.dev.Info()))
	}
	slices.SortFunc(out, func(a, b ExportedDevice) int { return strings.Compare(a.BusID, b.BusID) })
	return out
}

// Serve accepts connections on ln and serves each in its own goroutine,
// with the principal that ServerOptions.ConnContext attaches to its
// context. It returns nil once the server is closed, ErrClosed if it was
// closed already, and the accept error otherwise; temporary accept errors
// are retried with a backoff. It always closes ln.
func (s *Server) Serve(ln net.Listener) error {
	return s.loop.Serve(ln, func(ctx context.Context, c net.Conn) {
		if err := s.serveConn(ctx, c, PrincipalFrom(ctx)); err != nil {
			s.log.Debug("usbip: connection ended", "remote", c.RemoteAddr(), "err", err)
		}
	})
}

// ServeConn serves one connection the embedder has accepted (and
// authenticated): one DEVLIST or one IMPORT followed by the URB traffic of
// the imported device. The principal the embedder authenticated travels in
// ctx ([WithPrincipal]) to the Authorizer. It blocks until the connection
// ends, ctx is cancelled or the server closes, and always closes conn. It
// returns nil after a clean end (the peer closed after a DEVLIST or a
// detach) and an error wrapping ErrProtocol, ErrDenied, ErrNotFound or
// ErrBusy otherwise.
//
// The principal argument is deprecated: pass nil and put the principal in
// ctx. A non-nil principal is used instead of ctx's; the argument is kept
// until the next release.
func (s *Server) ServeConn(ctx context.Context, conn net.Conn, principal any) error {
	release, err := s.loop.Track(conn)
	if err != nil {
		conn.Close()
		return ErrClosed
	}
	defer release()
	if principal == nil {
		principal = PrincipalFrom(ctx)
	}
	return s.serveConn(ctx, conn, principal)
}

// serveConn serves conn, which the loop tracks, and closes it.
func (s *Server) serveConn(ctx context.Context, conn net.Conn, principal any) error {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	conn.SetDeadline(time.Now().Add(s.opts.HandshakeTimeout))
	code, _, err := readOpHeader(conn)
	if err != nil {
		return s.violation(conn, fmt.Errorf("usbip: operation header: %w", err))
	}
	switch code {
	case opReqDevlist:
		return s.devlist(ctx, conn, principal)
	case opReqImport:
		return s.importDevice(ctx, conn, principal)
	}
	return s.violation(conn, protoErr("unknown operation %#04x", code))
}

// violation logs why a connection is being closed and returns err.
func (s *Server) violation(conn net.Conn, err error) error {
	if errors.Is(err, ErrProtocol) {
		s.log.Warn("usbip: closing connection", "remote", conn.RemoteAddr(), "reason", err)
	}
	return err
}

// permitted applies the filter and the authorizer.
func (s *Server) permitted(ctx context.Context, op Op, conn net.Conn, principal any, busID string, info DeviceInfo) error {
	if !s.opts.Filter.Permits(busID, &info) {
		return fmt.Errorf("%w: %s by filter", ErrDenied, busID)
	}
	if s.opts.Authorize != nil {
		err := s.opts.Authorize(ctx, AuthRequest{Op: op, Principal: principal, Remote: conn.RemoteAddr(), BusID: busID, Device: info})
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrDenied, busID, err)
		}
	}
	return nil
}

func (s *Server) devlist(ctx context.Context, conn net.Conn, principal any) error {
	type item struct {
		e    ExportedDevice
		info DeviceInfo
	}
	s.mu.Lock()
	items := make([]item, 0, len(s.exports))
	for _, e := range s.exports {
		info := e.dev.Info()
		items = append(items, item{exportedFromInfo(e.busID, e.busNum, e.devNum, info), info})
	}
	s.mu.Unlock()
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.e.BusID, b.e.BusID) })
	var body []byte
	n := 0
	for _, it := range items {
		if err := s.permitted(ctx, OpList, conn, principal, it.e.BusID, it.info); err != nil {
			s.log.Debug("usbip: hidden from list", "busid", it.e.BusID, "principal", principal, "reason", err)
			continue
		}
		body = appendDeviceRecord(body, &it.e, true)
		n++
	}
	s.tel.operation(OpList, "ok")
	msg := make([]byte, opHeaderLen+4, opHeaderLen+4+len(body))
	putOpHeader(msg, opRepDevlist, uint32(OpOK))
	msg[8], msg[9], msg[10], msg[11] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	msg = append(msg, body...)
	if _, err := conn.Write(msg); err != nil {
		return fmt.Errorf("usbip: devlist reply: %w", err)
	}
	// The Linux tool closes after reading the list; wait for that (bounded
	// by the handshake deadline) so the reply is never cut short by a
	// reset.
	io.Copy(io.Discard, io.LimitReader(conn, 1<<10))
	return nil
}

func (s *Server) importDevice(ctx context.Context, conn net.Conn, principal any) error {
	var b [busIDLen]byte
	if _, err := io.ReadFull(conn, b[:]); err != nil {
		return fmt.Errorf("usbip: import request: %w", err)
	}
	busID, err := cString(b[:])
	if err != nil {
		return s.violation(conn, fmt.Errorf("usbip: import request: %w", err))
	}
	refuse := func(st OpStatus, err error) error {
		s.tel.operation(OpImport, map[OpStatus]string{OpNA: "denied", OpNoDevice: "not_found", OpDevBusy: "busy"}[st])
		var r [opHeaderLen]byte
		putOpHeader(r[:], opRepImport, uint32(st))
		conn.Write(r[:])
		s.log.Info("usbip: import refused", "busid", busID, "principal", principal, "remote", conn.RemoteAddr(), "status", st.String(), "reason", err)
		return err
	}
	s.mu.Lock()
	e, ok := s.exports[busID]
	s.mu.Unlock()
	if !ok {
		return refuse(OpNoDevice, fmt.Errorf("%w: %s", ErrNotFound, busID))
	}
	info := e.dev.Info()
	if err := s.permitted(ctx, OpImport, conn, principal, busID, info); err != nil {
		return refuse(OpNA, err)
	}
	sess := newSession(s, e, conn, info)
	s.mu.Lock()
	switch {
	case s.exports[busID] != e:
		s.mu.Unlock()
		return refuse(OpNoDevice, fmt.Errorf("%w: %s", ErrNotFound, busID))
	case e.sess != nil:
		s.mu.Unlock()
		return refuse(OpDevBusy, fmt.Errorf("%w: %s", ErrBusy, busID))
	}
	e.sess = sess
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		e.sess = nil
		s.mu.Unlock()
	}()

	rec := exportedFromInfo(e.busID, e.busNum, e.devNum, info)
	msg := make([]byte, opHeaderLen, opHeaderLen+deviceRecordLen)
	putOpHeader(msg, opRepImport, uint32(OpOK))
	msg = appendDeviceRecord(msg, &rec, false)
	if _, err := conn.Write(msg); err != nil {
		close(sess.done)
		return fmt.Errorf("usbip: import reply: %w", err)
	}
	conn.SetDeadline(time.Time{})
	s.tel.operation(OpImport, "ok")
	s.tel.active.Add(ctx, 1)
	defer s.tel.active.Add(context.Background(), -1)
	s.log.Info("usbip: device imported", "busid", busID, "principal", principal, "remote", conn.RemoteAddr())
	err = sess.run()
	s.log.Info("usbip: device released", "busid", busID, "remote", conn.RemoteAddr(), "err", err)
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return s.violation(conn, err)
}

// Close stops accepting, disconnects every peer, waits for every
// connection goroutine and closes every device. It is safe to call twice.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	exports := s.exports
	s.exports = map[string]*export{}
	s.mu.Unlock()
	s.loop.Close()
	var errs []error
	for _, e := range exports {
		if err := e.dev.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

package ztna

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/gonaut/gonaut/serialfwd"
	"github.com/gonaut/gonaut/tunnel"
	"github.com/gonaut/gonaut/usbip"
)

// Ports a Connector serves on its tunnel address besides the services it
// exports.
const (
	// ConnectorUSBPort is where a connector's USB/IP server listens.
	ConnectorUSBPort = 3240
	// PresencePort is where a connector answers the gateway's presence
	// polls (GET /presence, JSON): the USB devices and serial ports it
	// exports now.
	PresencePort = 3241
)

// Connector hosts resources where the gateway cannot dial them — a service
// behind NAT on an IoT device or a customer site, a USB device or a serial
// console on a lab bench. It is a WireGuard peer that dials out to the
// gateway (its wg-quick configuration names the gateway as its only peer,
// with a persistent keepalive so that NAT mappings stay open and the
// gateway learns where it is after network changes), and serves what it
// exports on its tunnel address:
//
//   - TCP services (Export) and UDP services (ExportUDP), each on a port;
//   - USB devices (AddUSBDevice: any usbip.Device, real through
//     usbip/hostusb or simulated with usbip/sim) on a USB/IP server at
//     ConnectorUSBPort; they come and go at any time (hot-plug);
//   - serial ports (ExportSerial) through serialfwd, each on a port.
//
// The gateway decides every flow and import by policy before it reaches
// the connector, and polls the connector's PresencePort every second to
// learn which USB devices and serial ports are there: devices that
// appear are offered to peers, devices that vanish are withdrawn and
// refused with a clear reason. The connector's tunnel has the gateway as
// its only peer, so only the gateway reaches these ports.
//
// The connector checks every Heartbeat that it still reaches the gateway;
// after three failures in a row (the gateway restarted and lost the
// WireGuard session, or the network changed under a NAT) it drops its
// session so that the next packet starts a new handshake. It needs no
// restart after a network loss.
//
// Set the exported fields, then Export services; Close stops everything.
// All methods are safe for concurrent use.
type Connector struct {
	// Config is the connector's tunnel: its key and address as in the
	// gateway's connectors section, the gateway as its one peer and the
	// gateway's address as DNS (ztna.PeerConfig writes it).
	Config tunnel.Config
	// Logger receives diagnostics. Default: discard.
	Logger *slog.Logger
	// Heartbeat is how often the connector checks that the gateway
	// answers (a DNS query to Config.DNS[0] through the tunnel). Default:
	// 5s; negative: no checks.
	Heartbeat time.Duration

	mu sync.Mutex
	// guarded by mu
	tun     *tunnel.Tunnel
	lns     []net.Listener
	pcs     []net.PacketConn
	usb     *usbip.Server
	serial  *serialfwd.Server
	serials map[int]SerialExport
	closed  bool
	cancel  context.CancelFunc
	resets  int // sessions dropped by the heartbeat
	psrv    *http.Server

	wg sync.WaitGroup // every goroutine the connector started
}

// SerialExport is a serial port a connector exports.
type SerialExport struct {
	// Path of the device, e.g. /dev/ttyUSB0. The port is reported
	// present while the path exists, and policy sees it as
	// resource.serial_port.
	Path string
	// Mode is applied when the device opens; zero fields keep the
	// device's settings.
	Mode serialfwd.Mode
	// Protocol is what the gateway's peers speak: RFC 2217 (the zero
	// value) or raw. It must match the gateway resource's
	// serial.protocol.
	Protocol serialfwd.Protocol
	// ModemLines says how DTR, RTS and flow-control requests are answered;
	// the zero value is serialfwd.ModemLinesAuto (virtual on a pty).
	ModemLines serialfwd.ModemLines
	// Open opens the device instead of serialfwd.SerialOpener(Path,
	// Mode), for a device that is not a tty. Optional.
	Open serialfwd.Opener
}

func (c *Connector) log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// upLocked starts the tunnel, the presence endpoint and the heartbeat on
// first use. c.mu must be held.
func (c *Connector) upLocked(ctx context.Context) (*tunnel.Tunnel, error) {
	if c.closed {
		return nil, ErrClosed
	}
	if c.tun != nil {
		return c.tun, nil
	}
	t, err := tunnel.New(ctx, c.Config, &tunnel.Options{Logger: c.Logger})
	if err != nil {
		return nil, fmt.Errorf("ztna: connector: %w", err)
	}
	ln, err := t.Listen("tcp", fmt.Sprintf(":%d", PresencePort))
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("ztna: connector: presence: %w", err)
	}
	c.tun = t
	c.lns = append(c.lns, ln)
	srv := &http.Server{Handler: http.HandlerFunc(c.servePresence), ReadHeaderTimeout: 5 * time.Second}
	c.psrv = srv
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		srv.Serve(ln)
	}()
	hctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	if c.Heartbeat >= 0 && len(c.Config.DNS) > 0 && len(c.Config.Peers) == 1 {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.heartbeat(hctx, t)
		}()
	}
	return t, nil
}

// Up starts the connector's tunnel if it is not running yet.
func (c *Connector) Up(ctx context.Context) (*tunnel.Tunnel, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.upLocked(ctx)
}

// Export serves port of the connector's tunnel address: every connection
// the gateway sends there is spliced to a connection from dial (for
// example to a local service or device). It starts the tunnel on first
// use.
func (c *Connector) Export(ctx context.Context, port int, dial func(ctx context.Context) (net.Conn, error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.upLocked(ctx)
	if err != nil {
		return err
	}
	ln, err := t.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		return fmt.Errorf("ztna: connector: %w", err)
	}
	c.lns = append(c.lns, ln)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				defer in.Close()
				out, err := dial(context.Background())
				if err != nil {
					return
				}
				splice(in, out, 0, false)
			}()
		}
	}()
	return nil
}

// ConnectorUDPIdle is how long a connector keeps a UDP session to a
// local service without a datagram either way.
const ConnectorUDPIdle = 2 * time.Minute

// ExportUDP serves UDP port of the connector's tunnel address: the
// datagrams of each flow the gateway relays there (one per peer flow) go
// to a connection from dial, and its answers go back. A session ends
// after ConnectorUDPIdle without a datagram.
func (c *Connector) ExportUDP(ctx context.Context, port int, dial func(ctx context.Context) (net.Conn, error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.upLocked(ctx)
	if err != nil {
		return err
	}
	pc, err := t.ListenPacket("udp", fmt.Sprintf(":%d", port))
	if err != nil {
		return fmt.Errorf("ztna: connector: %w", err)
	}
	c.pcs = append(c.pcs, pc)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.relayUDP(pc, dial)
	}()
	return nil
}

// relayUDP demultiplexes pc's datagrams by source into sessions, each
// with its own connection from dial, until pc is closed.
func (c *Connector) relayUDP(pc net.PacketConn, dial func(ctx context.Context) (net.Conn, error)) {
	var mu sync.Mutex
	sessions := map[string]net.Conn{} // guarded by mu
	var wg sync.WaitGroup
	defer func() {
		mu.Lock()
		for _, s := range sessions {
			s.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	buf := make([]byte, 64<<10)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		key := from.String()
		mu.Lock()
		s := sessions[key]
		mu.Unlock()
		if s == nil {
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s, err = dial(dctx)
			cancel()
			if err != nil {
				c.log().Warn("connector: udp dial", "err", err)
				continue
			}
			mu.Lock()
			sessions[key] = s
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				rb := make([]byte, 64<<10)
				for {
					s.SetReadDeadline(time.Now().Add(ConnectorUDPIdle))
					m, err := s.Read(rb)
					if err != nil {
						break
					}
					if _, err := pc.WriteTo(rb[:m], from); err != nil {
						break
					}
				}
				mu.Lock()
				if sessions[key] == s {
					delete(sessions, key)
				}
				mu.Unlock()
				s.Close()
			}()
		}
		s.SetReadDeadline(time.Now().Add(ConnectorUDPIdle))
		s.Write(buf[:n])
	}
}

// AddUSBDevice exports dev (a real device through usbip/hostusb, or a
// simulated one from usbip/sim) under busID on the connector's USB/IP
// server; an empty busID picks the next free one, which is returned. The
// connector owns dev from now on. The gateway learns of it within about
// a second and decides every list and import of it by policy.
func (c *Connector) AddUSBDevice(ctx context.Context, busID string, dev usbip.Device) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.upLocked(ctx)
	if err != nil {
		return "", err
	}
	if c.usb == nil {
		ln, err := t.Listen("tcp", fmt.Sprintf(":%d", ConnectorUSBPort))
		if err != nil {
			return "", fmt.Errorf("ztna: connector: usb: %w", err)
		}
		// Every connection comes from the gateway, which has decided it.
		c.usb = usbip.NewServer(&usbip.ServerOptions{Logger: c.Logger})
		srv := c.usb
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			srv.Serve(ln)
		}()
	}
	return c.usb.Add(busID, dev)
}

// RemoveUSBDevice withdraws a device (hot-unplug): its importer is
// disconnected, the device closed, and the gateway reports it absent.
func (c *Connector) RemoveUSBDevice(busID string) error {
	c.mu.Lock()
	srv := c.usb
	c.mu.Unlock()
	if srv == nil {
		return fmt.Errorf("ztna: connector: %w", usbip.ErrNotFound)
	}
	return srv.Remove(busID)
}

// ExportSerial serves the serial port sp on port of the connector's
// tunnel address.
func (c *Connector) ExportSerial(ctx context.Context, port int, sp SerialExport) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.upLocked(ctx)
	if err != nil {
		return err
	}
	if _, dup := c.serials[port]; dup {
		return fmt.Errorf("ztna: connector: port %d already exports a serial port", port)
	}
	open := sp.Open
	if open == nil {
		if sp.Path == "" {
			return fmt.Errorf("%w: connector: serial export needs Path or Open", ErrInvalidConfig)
		}
		open = serialfwd.SerialOpener(sp.Path, sp.Mode)
	}
	if c.serial == nil {
		c.serial = serialfwd.NewServer(&serialfwd.ServerOptions{Logger: c.Logger})
	}
	name := strconv.Itoa(port)
	if err := c.serial.AddPort(serialfwd.PortConfig{Name: name, Open: open, Mode: sp.Mode, ModemLines: sp.ModemLines}); err != nil {
		return fmt.Errorf("ztna: connector: %w", err)
	}
	ln, err := t.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		return fmt.Errorf("ztna: connector: %w", err)
	}
	if c.serials == nil {
		c.serials = map[int]SerialExport{}
	}
	c.serials[port] = sp
	srv := c.serial
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		srv.Serve(ln, name, sp.Protocol)
	}()
	return nil
}

// Listen returns a listener on port of the connector's tunnel address, for
// a service the connector implements itself (an http.Server).
func (c *Connector) Listen(ctx context.Context, port int) (net.Listener, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.upLocked(ctx)
	if err != nil {
		return nil, err
	}
	return t.Listen("tcp", fmt.Sprintf(":%d", port))
}

// SessionResets returns how many times the heartbeat found the gateway
// unreachable and dropped the WireGuard session to start a new one.
func (c *Connector) SessionResets() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resets
}

// presence is what servePresence reports now.
func (c *Connector) presence() presenceReport {
	c.mu.Lock()
	usb := c.usb
	serials := maps.Clone(c.serials)
	c.mu.Unlock()
	var r presenceReport
	if usb != nil {
		for _, d := range usb.Devices() {
			r.USB = append(r.USB, presentUSB{BusID: d.BusID, VendorID: d.Vendor, ProductID: d.Product})
		}
	}
	for _, port := range slices.Sorted(maps.Keys(serials)) {
		sp := serials[port]
		present := true
		if sp.Path != "" {
			_, err := os.Stat(sp.Path)
			present = err == nil
		}
		r.Serial = append(r.Serial, presentSerial{Port: port, Path: sp.Path, Present: present})
	}
	return r
}

func (c *Connector) servePresence(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/presence" || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(c.presence())
}

// heartbeat asks the gateway's DNS for a name every c.Heartbeat; after
// three unanswered checks in a row it drops the WireGuard session with
// the gateway (the peer is removed and added again), so that the next
// packet starts a new handshake at the configured endpoint.
func (c *Connector) heartbeat(ctx context.Context, t *tunnel.Tunnel) {
	every := c.Heartbeat
	if every == 0 {
		every = 5 * time.Second
	}
	server := netip.AddrPortFrom(c.Config.DNS[0], 53).String()
	peer := c.Config.Peers[0]
	q := heartbeatQuery()
	tick := time.NewTicker(every)
	defer tick.Stop()
	failed := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := ping(ctx, t, server, q, every); err == nil {
			failed = 0
			continue
		} else if ctx.Err() != nil {
			return
		}
		failed++
		if failed < 3 {
			continue
		}
		failed = 0
		c.log().Info("connector: gateway unreachable, starting a new session")
		if err := t.RemovePeer(peer.PublicKey); err != nil && !errors.Is(err, tunnel.ErrUnknownPeer) {
			c.log().Warn("connector: remove gateway peer", "err", err)
		}
		if err := t.SetPeer(ctx, peer); err != nil {
			c.log().Warn("connector: re-add gateway peer", "err", err)
			continue
		}
		c.mu.Lock()
		c.resets++
		c.mu.Unlock()
	}
}

func heartbeatQuery() []byte {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 0x6e61})
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("heartbeat.gonaut."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	q, _ := b.Finish()
	return q
}

// ping sends q to server through t and waits up to timeout for any
// answer.
func ping(ctx context.Context, t *tunnel.Tunnel, server string, q []byte, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := t.Dial(ctx, "udp", server)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(q); err != nil {
		return err
	}
	var buf [512]byte
	_, err = conn.Read(buf[:])
	return err
}

// Close stops the connector's services and tunnel. It is safe to call
// twice.
func (c *Connector) Close() error {
	c.mu.Lock()
	c.closed = true
	lns, pcs, t, usb, serial, cancel, psrv := c.lns, c.pcs, c.tun, c.usb, c.serial, c.cancel, c.psrv
	c.lns, c.pcs, c.tun, c.usb, c.serial, c.cancel, c.psrv = nil, nil, nil, nil, nil, nil, nil
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if psrv != nil {
		psrv.Close()
	}
	for _, ln := range lns {
		ln.Close()
	}
	for _, pc := range pcs {
		pc.Close()
	}
	if usb != nil {
		usb.Close()
	}
	if serial != nil {
		serial.Close()
	}
	var err error
	if t != nil {
		err = t.Close() // ends the spliced connections too
	}
	c.wg.Wait()
	return err
}

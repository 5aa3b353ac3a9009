package ztna

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gonaut/gonaut/policy"
	"github.com/gonaut/gonaut/usbip"
)

// Event kinds of devices hosted by connectors.
const (
	// EventDevicePresent is a USB device or serial port that a connector
	// reports (again): peers may now reach it, as policy allows.
	EventDevicePresent = "device_present"
	// EventDeviceAbsent is a device that a connector no longer reports,
	// or a connector that no longer answers; imports and connections to
	// it are refused with ErrDeviceAbsent.
	EventDeviceAbsent = "device_absent"
)

// presenceInterval is how often the gateway polls each connector that
// hosts usb or serial resources.
var presenceInterval = time.Second

// maxPresenceBytes bounds a presence report.
const maxPresenceBytes = 1 << 20

// presenceReport is a connector's answer on PresencePort.
type presenceReport struct {
	USB    []presentUSB    `json:"usb"`
	Serial []presentSerial `json:"serial"`
}

type presentUSB struct {
	BusID     string `json:"bus_id"`
	VendorID  uint16 `json:"vendor_id"`
	ProductID uint16 `json:"product_id"`
}

type presentSerial struct {
	Port    int    `json:"port"`
	Path    string `json:"path"`
	Present bool   `json:"present"`
}

// parsePresence reads a presence report from the network: bounded in
// size and entries, with bus ids and paths checked.
func parsePresence(data []byte) (*presenceReport, error) {
	if len(data) > maxPresenceBytes {
		return nil, errors.New("ztna: presence report too large")
	}
	var r presenceReport
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("ztna: presence report: %w", err)
	}
	if len(r.USB) > 4096 || len(r.Serial) > 4096 {
		return nil, errors.New("ztna: presence report: too many devices")
	}
	seen := map[string]bool{}
	for _, d := range r.USB {
		if !validBusID(d.BusID) {
			return nil, fmt.Errorf("ztna: presence report: bad bus id %q", d.BusID)
		}
		if seen[d.BusID] {
			return nil, fmt.Errorf("ztna: presence report: bus id %q twice", d.BusID)
		}
		seen[d.BusID] = true
	}
	for _, s := range r.Serial {
		if s.Port < 1 || s.Port > 65535 {
			return nil, fmt.Errorf("ztna: presence report: serial port %d out of range", s.Port)
		}
		if len(s.Path) > 4096 || strings.ContainsRune(s.Path, 0) {
			return nil, errors.New("ztna: presence report: bad serial path")
		}
	}
	return &r, nil
}

// validBusID accepts what usbip.Server uses: "B-P" with digits, dots and
// dashes, shorter than the protocol's 32 bytes.
func validBusID(s string) bool {
	if s == "" || len(s) >= 32 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// connectorPresence is what the gateway last learned from a connector.
type connectorPresence struct {
	ok     bool // the last poll was answered
	serial map[int]presentSerial
}

// presenceTable holds the last report of each connector.
type presenceTable struct {
	mu sync.Mutex
	// guarded by mu
	m map[string]*connectorPresence
}

func (t *presenceTable) serial(connector string, port int) (presentSerial, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.m[connector]
	if p == nil || !p.ok {
		return presentSerial{}, false
	}
	s, ok := p.serial[port]
	return s, ok && s.Present
}

// connectorFacts fills what a connector reports about a resource into the
// policy resource, and returns ErrDeviceAbsent if its device is not
// there now.
func (g *Gateway) connectorFacts(r *resource, pr *policy.Resource) error {
	if r.cfg.Kind != KindSerial {
		return nil
	}
	port := int(connectorPort(r.cfg))
	s, ok := g.presence.serial(r.cfg.Connector, port)
	if s.Path != "" {
		pr.SerialPort = s.Path
	} else if r.cfg.Serial != nil {
		pr.SerialPort = r.cfg.Serial.Path
	}
	if !ok {
		return fmt.Errorf("%w: serial port %d on connector %s", ErrDeviceAbsent, port, r.cfg.Connector)
	}
	return nil
}

// presenceLoop polls, every presenceInterval, the connectors that host usb
// or serial resources.
func (g *Gateway) presenceLoop() {
	defer g.wg.Done()
	hc := &http.Client{
		Transport: &http.Transport{DialContext: g.dialTunnel, DisableKeepAlives: true},
		Timeout:   2 * time.Second,
	}
	defer hc.CloseIdleConnections()
	t := time.NewTicker(presenceInterval)
	defer t.Stop()
	for {
		st := g.state.Load()
		var wg sync.WaitGroup
		for id, cn := range st.connectors {
			var hosted []*resource
			for _, r := range st.byName {
				if r.cfg.Connector == id && r.cfg.Kind.device() {
					hosted = append(hosted, r)
				}
			}
			if len(hosted) == 0 {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				g.pollConnector(hc, cn, hosted)
			}()
		}
		wg.Wait()
		select {
		case <-g.ctx.Done():
			g.releaseRemotes()
			return
		case <-t.C:
		}
	}
}

// pollConnector fetches one connector's report and brings its resources
// in line with it.
func (g *Gateway) pollConnector(hc *http.Client, cn ConnectorConfig, hosted []*resource) {
	addr := netip.MustParseAddr(cn.Address)
	rep, err := fetchPresence(g.ctx, hc, netip.AddrPortFrom(addr, PresencePort))
	if g.ctx.Err() != nil {
		return
	}
	if err != nil {
		g.log.Debug("connector presence", "connector", cn.ID, "err", err)
		rep = nil
	}
	g.presence.mu.Lock()
	if g.presence.m == nil {
		g.presence.m = map[string]*connectorPresence{}
	}
	prev := g.presence.m[cn.ID]
	cur := &connectorPresence{ok: rep != nil, serial: map[int]presentSerial{}}
	if rep != nil {
		for _, s := range rep.Serial {
			cur.serial[s.Port] = s
		}
	}
	g.presence.m[cn.ID] = cur
	g.presence.mu.Unlock()

	why := "not reported by connector " + cn.ID
	if err != nil {
		why = "connector " + cn.ID + " unreachable: " + err.Error()
	}
	for _, r := range hosted {
		switch r.cfg.Kind {
		case KindSerial:
			port := int(connectorPort(r.cfg))
			was := prev != nil && prev.ok && prev.serial[port].Present
			now := cur.ok && cur.serial[port].Present
			if was != now || prev == nil {
				ev := &Event{Time: time.Now(), Kind: EventDeviceAbsent, Resource: r.cfg.Name, RKind: string(KindSerial),
					Path: cur.serial[port].Path, Upstream: netip.AddrPortFrom(addr, uint16(port)).String()}
				if now {
					ev.Kind = EventDevicePresent
				} else {
					ev.Reason = why
				}
				g.emit(ev)
			}
		case KindUSB:
			g.syncUSB(r, cn, addr, rep, why)
		}
	}
}

func fetchPresence(ctx context.Context, hc *http.Client, at netip.AddrPort) (*presenceReport, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+at.String()+"/presence", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("presence: %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxPresenceBytes+1))
	if err != nil {
		return nil, err
	}
	return parsePresence(b)
}

// remoteUSB is a connector's device imported by the gateway and exported
// again by the resource's USB/IP server.
type remoteUSB struct {
	dev  *usbip.RemoteDevice
	conn *watchedConn
}

// absentUSB stands in the resource's USB/IP server for a connector's
// device that is gone, so that an import of it reaches the authoriser and
// is refused with a reason. Its transfers fail with ErrNoDevice.
type absentUSB struct{ info usbip.DeviceInfo }

func (a absentUSB) Info() usbip.DeviceInfo { return a.info }
func (absentUSB) Control(context.Context, usbip.Setup, []byte) (int, error) {
	return 0, usbip.ErrNoDevice
}
func (absentUSB) Transfer(context.Context, uint8, []byte) (int, error) {
	return 0, usbip.ErrNoDevice
}
func (absentUSB) Isochronous(context.Context, uint8, []byte, []usbip.IsoPacket) (int, error) {
	return 0, usbip.ErrNoDevice
}
func (absentUSB) Reset(context.Context) error { return usbip.ErrNoDevice }
func (absentUSB) Close() error                { return nil }

// syncUSB imports the devices the connector reports and the resource does
// not have yet, and withdraws those it no longer reports or whose import
// broke.
func (g *Gateway) syncUSB(r *resource, cn ConnectorConfig, addr netip.Addr, rep *presenceReport, why string) {
	g.devMu.Lock()
	u := g.usb[lowerName(r.cfg.Name)]
	g.devMu.Unlock()
	if u == nil {
		return
	}
	want := map[string]bool{}
	if rep != nil {
		for _, d := range rep.USB {
			want[d.BusID] = true
		}
	}
	at := netip.AddrPortFrom(addr, connectorPort(r.cfg))
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.remote == nil {
		u.remote, u.absent = map[string]*remoteUSB{}, map[string]string{}
	}
	for busID, rd := range u.remote {
		broken := rd.conn.dead.Load()
		if want[busID] && !broken {
			continue
		}
		reason := why
		if broken && want[busID] {
			reason = "import from connector " + cn.ID + " broke"
		}
		info := rd.dev.Info()
		u.srv.Remove(busID) // disconnects its importer and closes rd.dev
		delete(u.remote, busID)
		g.markAbsent(u, r, busID, info, reason, at)
	}
	var missing []string
	for busID := range want {
		if u.remote[busID] == nil {
			missing = append(missing, busID)
		}
	}
	// Import without holding u.mu, which decisions take: an import
	// through a slow tunnel must not stall them. Only this goroutine
	// changes u.remote and u.absent of a connector's resource.
	imported := make(map[string]*remoteUSB, len(missing))
	errs := make(map[string]error, len(missing))
	u.mu.Unlock()
	for _, busID := range missing {
		ctx, cancel := context.WithTimeout(g.ctx, 5*time.Second)
		imported[busID], errs[busID] = g.importRemote(ctx, at, busID)
		cancel()
	}
	u.mu.Lock()
	for _, busID := range missing {
		rd, err := imported[busID], errs[busID]
		if err != nil {
			if _, known := u.absent[busID]; !known {
				g.markAbsent(u, r, busID, usbip.DeviceInfo{}, "import from connector "+cn.ID+": "+err.Error(), at)
			}
			continue
		}
		if _, known := u.absent[busID]; known {
			u.srv.Remove(busID)
			delete(u.absent, busID)
		}
		if _, err := u.srv.Add(busID, rd.dev); err != nil {
			rd.dev.Close()
			continue
		}
		u.remote[busID] = rd
		g.emit(&Event{Time: time.Now(), Kind: EventDevicePresent, Resource: r.cfg.Name, RKind: string(KindUSB), Path: busID, Upstream: at.String()})
	}
}

// markAbsent records busID of u as absent (u.mu held), keeps it listed to
// the authoriser through an absentUSB, and emits the event.
func (g *Gateway) markAbsent(u *usbResource, r *resource, busID string, info usbip.DeviceInfo, why string, at netip.AddrPort) {
	if _, known := u.absent[busID]; !known {
		if _, err := u.srv.Add(busID, absentUSB{info: info}); err != nil {
			g.log.Debug("absent usb placeholder", "busid", busID, "err", err)
		}
	}
	u.absent[busID] = why
	g.emit(&Event{Time: time.Now(), Kind: EventDeviceAbsent, Resource: r.cfg.Name, RKind: string(KindUSB), Path: busID, Upstream: at.String(), Reason: why})
}

// importRemote imports busID from the connector's USB/IP server at at.
func (g *Gateway) importRemote(ctx context.Context, at netip.AddrPort, busID string) (*remoteUSB, error) {
	c, err := g.dialTunnel(ctx, "tcp", at.String())
	if err != nil {
		return nil, err
	}
	wc := &watchedConn{Conn: c}
	dev, err := usbip.Import(ctx, wc, busID, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	return &remoteUSB{dev: dev, conn: wc}, nil
}

// usbAbsent returns ErrDeviceAbsent when busID of the usb resource r is a
// connector's device that is not there now.
func (g *Gateway) usbAbsent(r *resource, busID string) error {
	g.devMu.Lock()
	u := g.usb[lowerName(r.cfg.Name)]
	g.devMu.Unlock()
	if u == nil {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if why, absent := u.absent[busID]; absent {
		return fmt.Errorf("%w: usb device %s: %s", ErrDeviceAbsent, busID, why)
	}
	return nil
}

// releaseRemotes closes the imports from connectors when the gateway
// stops.
func (g *Gateway) releaseRemotes() {
	g.devMu.Lock()
	defer g.devMu.Unlock()
	for _, u := range g.usb {
		u.mu.Lock()
		for busID := range u.remote {
			u.srv.Remove(busID)
		}
		u.remote = nil
		u.mu.Unlock()
	}
}

// watchedConn notes when a read on it failed: the end of an import.
type watchedConn struct {
	net.Conn
	dead atomic.Bool
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		c.dead.Store(true)
	}
	return n, err
}

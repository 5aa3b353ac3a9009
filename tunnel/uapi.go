package tunnel

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/ipc"
)

// uapiDir is where wireguard-go's ipc package puts UAPI sockets and where
// wg(8) looks for them.
const uapiDir = "/var/run/wireguard"

// serveUAPI listens on /var/run/wireguard/NAME.sock and speaks the
// WireGuard cross-platform UAPI protocol (get=1, set=1) over it, so the
// stock wg(8) tool can inspect and reconfigure the tunnel.
//
// The tunnel answers the protocol itself rather than handing the socket to
// wireguard-go: its own peer table is the configuration, and wireguard-go
// holds only the peers in use (see Options.EagerPeers). A get lists every
// configured peer with statistics merged across loads; a set is parsed and
// checked whole, then applied through SetPeer and RemovePeer, so Config,
// Peers and WhoIs follow it at once.
func (t *Tunnel) serveUAPI(name string) error {
	f, err := ipc.UAPIOpen(name)
	if err != nil {
		return fmt.Errorf("tunnel: UAPI socket %q: %w", name, err)
	}
	l, err := ipc.UAPIListen(name, f)
	if err != nil {
		f.Close()
		return fmt.Errorf("tunnel: UAPI socket %q: %w", name, err)
	}
	t.mu.Lock()
	t.uapi = l
	t.uapiPath = filepath.Join(uapiDir, name+".sock")
	t.wg.Add(1)
	t.mu.Unlock()
	go func() {
		defer t.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					t.log.Warn("UAPI accept", "err", err)
				}
				return
			}
			t.mu.Lock()
			closed := t.closed
			t.uapiConn = c
			t.mu.Unlock()
			if closed {
				c.Close()
				return
			}
			t.handleUAPI(c)
			t.mu.Lock()
			t.uapiConn = nil
			t.mu.Unlock()
		}
	}()
	return nil
}

// uapiError is a UAPI failure with its errno, as wg(8) reports it.
type uapiError struct {
	code int64
	err  error
}

func (e *uapiError) Error() string { return e.err.Error() }
func (e *uapiError) Unwrap() error { return e.err }

func uapiErrorf(code int64, format string, args ...any) error {
	return &uapiError{code: code, err: fmt.Errorf(format, args...)}
}

// handleUAPI serves the requests of one UAPI client until it closes the
// connection or sends something that is not a request; it closes c.
func (t *Tunnel) handleUAPI(c net.Conn) {
	defer c.Close()
	rw := bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c))
	for {
		op, err := rw.ReadString('\n')
		if err != nil {
			return
		}
		switch op {
		case "get=1\n":
			var b byte
			if b, err = rw.ReadByte(); err != nil {
				return
			}
			if b != '\n' {
				err = uapiErrorf(ipc.IpcErrorInvalid, "trailing character in UAPI get: %q", b)
				break
			}
			err = t.uapiGet(rw.Writer)
		case "set=1\n":
			var req *uapiSet
			req, err = readUAPISet(rw.Reader)
			if err == nil {
				err = t.applyUAPISet(req)
			}
		default:
			t.log.Warn("UAPI: invalid operation", "op", strings.TrimSpace(op))
			return
		}
		var code int64
		if err != nil {
			t.log.Warn("UAPI", "err", err)
			code = ipc.IpcErrorUnknown
			var ue *uapiError
			if errors.As(err, &ue) {
				code = ue.code
			}
		}
		fmt.Fprintf(rw, "errno=%d\n\n", code)
		if rw.Flush() != nil {
			return
		}
	}
}

// uapiGet writes the answer to a get: the interface as wireguard-go
// reports it, then every configured peer.
func (t *Tunnel) uapiGet(w *bufio.Writer) error {
	dev, err := t.dev.IpcGet()
	if err != nil {
		return uapiErrorf(ipc.IpcErrorIO, "read device: %w", err)
	}
	for line := range strings.SplitSeq(dev, "\n") {
		if strings.HasPrefix(line, "public_key=") {
			break // the peers follow; ours replace them
		}
		if line != "" {
			w.WriteString(line)
			w.WriteByte('\n')
		}
	}
	ps := t.Peers()
	psk := make(map[Key]Key)
	t.mu.Lock()
	for _, p := range t.cfg.Peers {
		psk[p.PublicKey] = p.PresharedKey
	}
	t.mu.Unlock()
	for _, p := range ps {
		fmt.Fprintf(w, "public_key=%s\n", p.PublicKey.hex())
		k := psk[p.PublicKey]
		fmt.Fprintf(w, "preshared_key=%s\n", k.hex())
		w.WriteString("protocol_version=1\n")
		if p.Endpoint.IsValid() {
			fmt.Fprintf(w, "endpoint=%s\n", p.Endpoint)
		}
		var sec, nsec int64
		if !p.LastHandshake.IsZero() {
			ns := p.LastHandshake.UnixNano()
			sec, nsec = ns/1e9, ns%1e9
		}
		fmt.Fprintf(w, "last_handshake_time_sec=%d\nlast_handshake_time_nsec=%d\n", sec, nsec)
		fmt.Fprintf(w, "tx_bytes=%d\nrx_bytes=%d\n", p.TxBytes, p.RxBytes)
		fmt.Fprintf(w, "persistent_keepalive_interval=%d\n", int(p.PersistentKeepalive/time.Second))
		for _, a := range p.AllowedIPs {
			fmt.Fprintf(w, "allowed_ip=%s\n", a)
		}
	}
	return nil
}

// uapiSet is a parsed set request.
type uapiSet struct {
	privateKey   *Key
	listenPort   *int
	fwmark       string // passed to wireguard-go as is; empty if absent
	replacePeers bool
	peers        []*uapiPeer
}

// uapiPeer is the part of a set request about one peer.
type uapiPeer struct {
	key            Key
	remove         bool
	updateOnly     bool
	psk            *Key
	endpoint       *netip.AddrPort
	keepalive      *time.Duration
	replaceAllowed bool
	allowed        []allowedChange // in request order
}

type allowedChange struct {
	prefix netip.Prefix
	add    bool
}

// readUAPISet reads the lines of a set request up to its empty line. It
// checks every value, so that a bad request changes nothing.
func readUAPISet(r *bufio.Reader) (*uapiSet, error) {
	req := &uapiSet{}
	var peer *uapiPeer
	var bad error
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, uapiErrorf(ipc.IpcErrorIO, "read set request: %w", err)
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			break
		}
		if bad != nil {
			continue // read up to the end of the request, then fail
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			bad = uapiErrorf(ipc.IpcErrorProtocol, "invalid UAPI line %q", line)
			continue
		}
		if peer == nil && k != "public_key" {
			bad = req.setInterface(k, v)
			continue
		}
		switch k {
		case "public_key":
			key, err := parseHexKey(v)
			if err != nil {
				bad = err
				continue
			}
			peer = &uapiPeer{key: key}
			req.peers = append(req.peers, peer)
		default:
			bad = peer.set(k, v)
		}
	}
	if bad != nil {
		return nil, bad
	}
	return req, nil
}

func (req *uapiSet) setInterface(k, v string) error {
	switch k {
	case "private_key":
		key, err := parseHexKey(v)
		if err != nil {
			return err
		}
		req.privateKey = &key
	case "listen_port":
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return uapiErrorf(ipc.IpcErrorInvalid, "invalid listen_port %q", v)
		}
		port := int(n)
		req.listenPort = &port
	case "fwmark":
		if _, err := strconv.ParseUint(v, 10, 32); err != nil {
			return uapiErrorf(ipc.IpcErrorInvalid, "invalid fwmark %q", v)
		}
		req.fwmark = v
	case "replace_peers":
		if v != "true" {
			return uapiErrorf(ipc.IpcErrorInvalid, "invalid replace_peers %q", v)
		}
		req.replacePeers = true
	default:
		return uapiErrorf(ipc.IpcErrorInvalid, "invalid UAPI device key %q", k)
	}
	return nil
}

func (p *uapiPeer) set(k, v string) error {
	switch k {
	case "remove", "update_only", "replace_allowed_ips":
		if v != "true" {
			return uapiErrorf(ipc.IpcErrorInvalid, "invalid %s %q", k, v)
		}
		switch k {
		case "remove":
			p.remove = true
		case "update_only":
			p.updateOnly = true
		default:
			p.replaceAllowed = true
			p.allowed = p.allowed[:0]
		}
	case "preshared_key":
		key, err := parseHexKey(v)
		if err != nil {
			return err
		}
		p.psk = &key
	case "endpoint":
		ap, err := netip.ParseAddrPort(v)
		if err != nil {
			return uapiErrorf(ipc.IpcErrorInvalid, "invalid endpoint %q", v)
		}
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		p.endpoint = &ap
	case "persistent_keepalive_interval":
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return uapiErrorf(ipc.IpcErrorInvalid, "invalid persistent_keepalive_interval %q", v)
		}
		d := time.Duration(n) * time.Second
		p.keepalive = &d
	case "allowed_ip":
		add := true
		if rest, ok := strings.CutPrefix(v, "-"); ok {
			v, add = rest, false
		}
		pfx, err := netip.ParsePrefix(v)
		if err != nil {
			return uapiErrorf(ipc.IpcErrorInvalid, "invalid allowed_ip %q", v)
		}
		p.allowed = append(p.allowed, allowedChange{prefix: pfx.Masked(), add: add})
	case "protocol_version":
		if v != "1" {
			return uapiErrorf(ipc.IpcErrorInvalid, "invalid protocol_version %q", v)
		}
	default:
		return uapiErrorf(ipc.IpcErrorInvalid, "invalid UAPI peer key %q", k)
	}
	return nil
}

func parseHexKey(s string) (Key, error) {
	var k Key
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != KeyLen {
		return k, uapiErrorf(ipc.IpcErrorInvalid, "invalid key %q", s)
	}
	copy(k[:], b)
	return k, nil
}

// applyUAPISet applies a parsed set request: interface settings through
// wireguard-go, peers through the tunnel's own table. Every resulting peer
// configuration is validated before anything changes.
func (t *Tunnel) applyUAPISet(req *uapiSet) error {
	cur := t.Config()
	final := make(map[Key]PeerConfig, len(cur.Peers))
	if !req.replacePeers {
		for _, p := range cur.Peers {
			final[p.PublicKey] = p
		}
	}
	var touched []Key // peers to set, in request order
	inTouched := make(map[Key]bool)
	for _, rp := range req.peers {
		if rp.remove {
			delete(final, rp.key)
			continue
		}
		p, exists := final[rp.key]
		if !exists && rp.updateOnly {
			continue
		}
		p.PublicKey = rp.key
		if rp.psk != nil {
			p.PresharedKey = *rp.psk
		}
		if rp.endpoint != nil {
			p.Endpoint = rp.endpoint.String()
		}
		if rp.keepalive != nil {
			p.PersistentKeepalive = *rp.keepalive
		}
		if rp.replaceAllowed {
			p.AllowedIPs = nil
		} else {
			p.AllowedIPs = slices.Clone(p.AllowedIPs)
		}
		for _, c := range rp.allowed {
			p.AllowedIPs = slices.DeleteFunc(p.AllowedIPs, func(a netip.Prefix) bool { return a.Masked() == c.prefix })
			if c.add {
				p.AllowedIPs = append(p.AllowedIPs, c.prefix)
			}
		}
		if err := p.validate(); err != nil {
			return uapiErrorf(ipc.IpcErrorInvalid, "peer %v: %w", rp.key, err)
		}
		final[rp.key] = p
		if !inTouched[rp.key] {
			inTouched[rp.key] = true
			touched = append(touched, rp.key)
		}
	}

	// Unlike wg(8) on a kernel interface, a prefix is never moved from one
	// peer to another: the request fails whole (see checkOverlaps).
	peers := make([]PeerConfig, 0, len(final))
	for _, p := range final {
		peers = append(peers, p)
	}
	if err := checkOverlaps(peers); err != nil {
		return uapiErrorf(ipc.IpcErrorInvalid, "%w", err)
	}
	if err := t.setInterface(req); err != nil {
		return err
	}
	// Applied as SetPeers does, so that a request may move a prefix
	// between peers in any order: prefixes are taken before any is given.
	apply := make(map[Key]bool, len(touched))
	for _, key := range touched {
		apply[key] = true
	}
	t.cfgMu.Lock()
	defer t.cfgMu.Unlock()
	if err := t.applyPeersLocked(context.Background(), peers, apply); err != nil {
		return uapiErrorf(ipc.IpcErrorInvalid, "%w", err)
	}
	return nil
}

// setInterface applies the interface part of a set request.
func (t *Tunnel) setInterface(req *uapiSet) error {
	var b strings.Builder
	if req.privateKey != nil {
		fmt.Fprintf(&b, "private_key=%s\n", req.privateKey.hex())
	}
	if req.listenPort != nil {
		fmt.Fprintf(&b, "listen_port=%d\n", *req.listenPort)
	}
	if req.fwmark != "" {
		fmt.Fprintf(&b, "fwmark=%s\n", req.fwmark)
	}
	if b.Len() == 0 {
		return nil
	}
	if err := t.checkOpen(); err != nil {
		return uapiErrorf(ipc.IpcErrorIO, "%w", err)
	}
	// A new listen port or mark rebinds the UDP socket, which waits for
	// the receive goroutines: hold rebindMu, not mu or cfgMu, which those
	// goroutines may wait for.
	t.rebindMu.Lock()
	err := t.dev.IpcSet(b.String())
	t.rebindMu.Unlock()
	if err != nil {
		code := int64(ipc.IpcErrorUnknown)
		var ie *device.IPCError
		if errors.As(err, &ie) {
			code = ie.ErrorCode()
		}
		return uapiErrorf(code, "set interface: %w", err)
	}
	port := 0
	if req.listenPort != nil {
		port = *req.listenPort
		if port == 0 {
			port = t.deviceListenPort()
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if req.privateKey != nil && !req.privateKey.IsZero() {
		t.cfg.PrivateKey = *req.privateKey
		if t.lazy != nil {
			t.lazy.setIdentity(*req.privateKey)
		}
	}
	if req.listenPort != nil {
		t.cfg.ListenPort = port
	}
	return nil
}

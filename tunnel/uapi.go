package tunnel

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"

	"golang.zx2c4.com/wireguard/ipc"
)

// uapiDir is where wireguard-go's ipc package puts UAPI sockets and where
// wg(8) looks for them.
const uapiDir = "/var/run/wireguard"

// serveUAPI listens on /var/run/wireguard/NAME.sock with wireguard-go's
// UAPI implementation, so the stock wg(8) tool can inspect and reconfigure
// the tunnel. Changes made through it (wg set) are read back into the
// tunnel's own view of its peers after each UAPI request.
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
			t.dev.IpcHandle(c) // closes c
			t.mu.Lock()
			t.uapiConn = nil
			t.mu.Unlock()
			t.syncFromDevice()
		}
	}()
	return nil
}

// syncFromDevice rebuilds the tunnel's peer list and WhoIs table from the
// device, after a UAPI client may have changed them.
func (t *Tunnel) syncFromDevice() {
	ps := t.Peers()
	t.mu.Lock()
	defer t.mu.Unlock()
	old := make(map[Key]PeerConfig, len(t.cfg.Peers))
	for _, p := range t.cfg.Peers {
		old[p.PublicKey] = p
	}
	t.table = prefixTable{}
	t.cfg.Peers = t.cfg.Peers[:0]
	for _, s := range ps {
		p := old[s.PublicKey]
		p.PublicKey = s.PublicKey
		p.AllowedIPs = s.AllowedIPs
		p.PersistentKeepalive = s.PersistentKeepalive
		if p.Endpoint == "" && s.Endpoint.IsValid() {
			p.Endpoint = s.Endpoint.String()
		}
		t.cfg.Peers = append(t.cfg.Peers, p)
		t.table.setPeer(p.PublicKey, nil, p.AllowedIPs)
	}
}

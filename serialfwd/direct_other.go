//go:build !linux

package serialfwd

import "context"

// startDeviceLoop starts readDevice: the device loop is Linux only.
func (p *port) startDeviceLoop(ctx context.Context, dev Device, done chan struct{}) bool {
	go p.readDevice(ctx, dev, done)
	return false
}

func (p *port) wakeLoop() {}

func (s *session) startDirect() bool { return false }

func (s *session) writeNetLocked(b []byte) error { return writeFull(s.conn, b) }

// sockFD is the socket the device loop owns, on Linux.
type sockFD struct{}

func (*sockFD) Close() error { return nil }

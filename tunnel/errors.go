package tunnel

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these where
// one applies, so callers can test with errors.Is.
var (
	// ErrClosed is returned by operations on a Tunnel after Close.
	ErrClosed = errors.New("tunnel: closed")

	// ErrInvalidKey reports a key that is not 32 bytes of base64.
	ErrInvalidKey = errors.New("tunnel: invalid key")

	// ErrInvalidConfig reports a configuration that cannot be applied, or a
	// wg-quick file that cannot be parsed.
	ErrInvalidConfig = errors.New("tunnel: invalid config")

	// ErrUnknownPeer is returned when a public key names no configured peer.
	ErrUnknownPeer = errors.New("tunnel: unknown peer")

	// ErrUnsupportedNetwork is returned by Dial, Listen and ListenPacket for
	// a network other than tcp, tcp4, tcp6, udp, udp4 or udp6.
	ErrUnsupportedNetwork = errors.New("tunnel: unsupported network")

	// ErrFlowDecided is returned by Flow.Accept when the flow was already
	// accepted or refused.
	ErrFlowDecided = errors.New("tunnel: flow already decided")

	// ErrFlowMoved is returned by Flow.Accept when the flow's source
	// address no longer belongs to the flow's peer.
	ErrFlowMoved = errors.New("tunnel: flow source moved to another peer")
)

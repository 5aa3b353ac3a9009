package serialfwd

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these where
// one applies, so callers test them with [errors.Is].
var (
	// ErrClosed is returned by operations on a closed Server, Port, Client
	// or Bridge.
	ErrClosed = errors.New("serialfwd: closed")

	// ErrDenied is returned by ServeConn when the authorisation hook
	// refused the connection.
	ErrDenied = errors.New("serialfwd: access denied")

	// ErrPortBusy is returned when an exclusive port already has a client
	// and the port is configured to refuse the second one.
	ErrPortBusy = errors.New("serialfwd: port busy")

	// ErrKicked ends a session that a newer client of an exclusive port
	// configured with AccessExclusiveKick replaced.
	ErrKicked = errors.New("serialfwd: replaced by a newer client")

	// ErrDeviceGone ends every session of a port whose device failed or
	// disappeared (USB-serial adapter unplugged, pty closed). The port opens
	// the device again for the next client.
	ErrDeviceGone = errors.New("serialfwd: device gone")

	// ErrDeviceUnavailable is returned when the device cannot be opened.
	ErrDeviceUnavailable = errors.New("serialfwd: device unavailable")

	// ErrIdle ends a session that exchanged no bytes for the idle timeout.
	ErrIdle = errors.New("serialfwd: idle timeout")

	// ErrSlowWatcher ends a read-only watcher that fell too far behind the
	// device: dropping the watcher keeps the writer's session flowing and
	// never loses bytes silently.
	ErrSlowWatcher = errors.New("serialfwd: watcher too slow")

	// ErrUnknownPort is returned for a port name the Server does not share.
	ErrUnknownPort = errors.New("serialfwd: unknown port")

	// ErrProtocol reports malformed telnet or RFC 2217 input from the peer.
	ErrProtocol = errors.New("serialfwd: protocol error")

	// ErrNotRFC2217 is returned by the client when the server does not
	// agree to the COM-PORT-OPTION.
	ErrNotRFC2217 = errors.New("serialfwd: server does not speak RFC 2217")

	// ErrUnsupported is returned by a Device for a control it cannot perform.
	ErrUnsupported = errors.New("serialfwd: unsupported by device")
)

// ErrRefused is returned by the client when the server applied a different
// value than requested (the device refused it); the applied value is
// returned alongside.
var ErrRefused = errors.New("serialfwd: setting refused by the remote device")

package serialfwd

import (
	"context"
	"io"
)

// Device is a serial port as the server and the pty bridge drive it: a byte
// stream plus a line-settings controller. [OpenSerial] opens a real port with
// go.bug.st/serial; tests and embedders plug in their own (a USB-CDC stack,
// a simulator, a remote port through a [Client]).
//
// Read and Write may be called concurrently with each other and with the
// controller's methods. Close must make a blocked Read return, and is safe
// to call more than once. Read returning an error other than a timeout means
// the device is gone: the server ends the port's sessions with
// [ErrDeviceGone] and opens the device again for the next client.
type Device interface {
	io.ReadWriteCloser
	LineController
}

// LineController sets and reports a serial line's settings and control
// lines. Every setter returns what the device actually applied, which may
// differ from the request when the device refuses part of it (a pty refuses
// DTR and RTS), together with an error saying why. The server reports the
// applied value to the RFC 2217 client, never the requested one.
type LineController interface {
	// SetMode applies m (zero fields keep their current value) and returns
	// the mode in effect afterwards.
	SetMode(m Mode) (Mode, error)

	// SetBreak sets or clears the break condition and returns the state in
	// effect afterwards.
	SetBreak(on bool) (bool, error)

	// SetDTR and SetRTS set the modem output lines and return the state in
	// effect afterwards.
	SetDTR(on bool) (bool, error)
	SetRTS(on bool) (bool, error)

	// ModemState reports the modem lines. A device without modem lines
	// returns a zero state and an error wrapping ErrUnsupported.
	ModemState() (ModemState, error)

	// Purge discards the device's unread input and/or unsent output.
	Purge(input, output bool) error
}

// Opener opens a port's device. It is called for the first client and again
// after the device disappeared; an error means the device is not there (yet).
type Opener func(ctx context.Context) (Device, error)

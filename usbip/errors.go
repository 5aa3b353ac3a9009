package usbip

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. Errors returned by this package wrap one of these (or a
// context error) so callers can test them with errors.Is.
var (
	// ErrProtocol reports a peer that broke the USB/IP protocol: a bad
	// version or command, a length over a cap, an ISO descriptor outside
	// its buffer. The connection is closed.
	ErrProtocol = errors.New("usbip: protocol violation")
	// ErrClosed reports use of a server, session or imported device after
	// Close, or after its connection ended.
	ErrClosed = errors.New("usbip: closed")
	// ErrNotFound reports a bus id that no device is exported under.
	ErrNotFound = errors.New("usbip: no such device")
	// ErrBusy reports an import of a device that another client holds.
	ErrBusy = errors.New("usbip: device busy")
	// ErrDenied reports an import refused by the server's filter or
	// authorisation hook (the wire says only "request failed").
	ErrDenied = errors.New("usbip: request denied")
	// ErrExists reports an Add under a bus id that is already taken.
	ErrExists = errors.New("usbip: bus id in use")
	// ErrStall reports a USB stall (-EPIPE): the device refused the
	// request or the endpoint is halted.
	ErrStall = errors.New("usbip: endpoint stalled")
	// ErrUnlinked reports a transfer cancelled by UNLINK (-ECONNRESET).
	ErrUnlinked = errors.New("usbip: transfer unlinked")
	// ErrNoDevice reports a device that has gone away (-ENODEV,
	// -ESHUTDOWN).
	ErrNoDevice = errors.New("usbip: device gone")
	// ErrTimeout reports a transfer that timed out on the device
	// (-ETIMEDOUT).
	ErrTimeout = errors.New("usbip: transfer timed out")
	// ErrOverflow reports a device that sent more than the buffer holds
	// (-EOVERFLOW, babble).
	ErrOverflow = errors.New("usbip: overflow")
)

// Errno is a URB completion status as the Linux kernel reports it and the
// USB/IP wire carries it: zero or a negated errno (−32 for a stall).
type Errno int32

// Linux errno values that USB/IP statuses use (include/uapi/asm-generic/errno*.h).
const (
	StatusOK         Errno = 0
	StatusNoEntry    Errno = -2   // ENOENT: URB killed synchronously
	StatusIO         Errno = -5   // EIO
	StatusNoDevice   Errno = -19  // ENODEV
	StatusInvalid    Errno = -22  // EINVAL
	StatusStall      Errno = -32  // EPIPE
	StatusProto      Errno = -71  // EPROTO
	StatusOverflow   Errno = -75  // EOVERFLOW
	StatusConnReset  Errno = -104 // ECONNRESET: unlinked
	StatusShutdown   Errno = -108 // ESHUTDOWN
	StatusTimedOut   Errno = -110 // ETIMEDOUT
	StatusInProgress Errno = -115 // EINPROGRESS
	StatusRemoteIO   Errno = -121 // EREMOTEIO: short packet with URB_SHORT_NOT_OK
)

var errnoNames = map[Errno]string{
	StatusNoEntry: "ENOENT", StatusIO: "EIO", StatusNoDevice: "ENODEV",
	StatusInvalid: "EINVAL", StatusStall: "EPIPE (stall)", StatusProto: "EPROTO",
	StatusOverflow: "EOVERFLOW", StatusConnReset: "ECONNRESET (unlinked)",
	StatusShutdown: "ESHUTDOWN", StatusTimedOut: "ETIMEDOUT",
	StatusInProgress: "EINPROGRESS", StatusRemoteIO: "EREMOTEIO",
}

func (e Errno) Error() string {
	if n, ok := errnoNames[e]; ok {
		return "usbip: urb status " + strconv.Itoa(int(e)) + " " + n
	}
	return "usbip: urb status " + strconv.Itoa(int(e))
}

// Is makes an Errno match the sentinel that names its meaning, so that
// errors.Is(err, ErrStall) holds for StatusStall.
func (e Errno) Is(target error) bool {
	switch target {
	case ErrStall:
		return e == StatusStall
	case ErrUnlinked:
		return e == StatusConnReset || e == StatusNoEntry
	case ErrNoDevice:
		return e == StatusNoDevice || e == StatusShutdown
	case ErrTimeout:
		return e == StatusTimedOut
	case ErrOverflow:
		return e == StatusOverflow
	}
	return false
}

// StatusOf maps an error returned by a Device to the status a RET_SUBMIT
// carries. Devices may return an Errno directly; the sentinels and context
// errors map to their natural errno; anything else becomes −EPROTO.
func StatusOf(err error) Errno {
	if err == nil {
		return StatusOK
	}
	var e Errno
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, ErrStall):
		return StatusStall
	case errors.Is(err, ErrUnlinked), errors.Is(err, context.Canceled):
		return StatusConnReset
	case errors.Is(err, ErrNoDevice), errors.Is(err, ErrClosed):
		return StatusNoDevice
	case errors.Is(err, ErrTimeout):
		return StatusTimedOut
	case errors.Is(err, ErrOverflow):
		return StatusOverflow
	}
	return StatusProto
}

// OpStatus is the status of an OP_REP_DEVLIST or OP_REP_IMPORT reply
// (usbip-utils' usbip_network.h: ST_OK, ST_NA, ...).
type OpStatus uint32

// Operation reply statuses.
const (
	OpOK         OpStatus = 0 // ST_OK
	OpNA         OpStatus = 1 // ST_NA: request failed (used for a denied import)
	OpDevBusy    OpStatus = 2 // ST_DEV_BUSY
	OpDevError   OpStatus = 3 // ST_DEV_ERR
	OpNoDevice   OpStatus = 4 // ST_NODEV
	OpUnexpected OpStatus = 5 // ST_ERROR
)

// String returns the phrase the Linux usbip tool prints for the status.
func (s OpStatus) String() string {
	switch s {
	case OpOK:
		return "Request Completed Successfully"
	case OpNA:
		return "Request Failed"
	case OpDevBusy:
		return "Device busy (exported)"
	case OpDevError:
		return "Device in error state"
	case OpNoDevice:
		return "Device not found"
	case OpUnexpected:
		return "Unexpected response"
	}
	return "Unknown status " + strconv.FormatUint(uint64(s), 10)
}

// OpError is a non-zero status in an operation reply.
type OpError struct {
	Op     string // "import" or "devlist"
	BusID  string
	Status OpStatus
}

func (e *OpError) Error() string {
	if e.BusID != "" {
		return fmt.Sprintf("usbip: %s %s: %s", e.Op, e.BusID, e.Status)
	}
	return fmt.Sprintf("usbip: %s: %s", e.Op, e.Status)
}

// Is matches the sentinel for the status: OpNoDevice is ErrNotFound,
// OpDevBusy is ErrBusy, OpNA is ErrDenied.
func (e *OpError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == OpNoDevice
	case ErrBusy:
		return e.Status == OpDevBusy
	case ErrDenied:
		return e.Status == OpNA
	}
	return false
}

// protoErr wraps ErrProtocol with a reason.
func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
}

package analytics

import (
	"errors"
	"strconv"
)

// Sentinel errors. Errors returned by this package wrap one of these, so
// callers test them with [errors.Is].
var (
	// ErrInvalidEvent is wrapped by every error about an event's content: a
	// missing subject or time, a time outside [MinTime, MaxTime), an unknown
	// kind or effect, an over-long field.
	ErrInvalidEvent = errors.New("analytics: invalid event")

	// ErrOutOfOrder reports an event older than its subject's newest event by
	// more than Options.MaxDisorder. It is not applied.
	ErrOutOfOrder = errors.New("analytics: event out of order")

	// ErrDuplicate reports an event identical to one of its subject's last
	// few events. It is not applied.
	ErrDuplicate = errors.New("analytics: duplicate event")

	// ErrSnapshot is wrapped by every error about a snapshot stream that
	// cannot be restored: bad magic, corrupt or truncated content, checksum
	// mismatch, out-of-range values. The engine's state is left untouched.
	ErrSnapshot = errors.New("analytics: bad snapshot")

	// ErrSnapshotVersion reports a snapshot written by an incompatible
	// version of the format. It also wraps ErrSnapshot.
	ErrSnapshotVersion = errors.New("analytics: unsupported snapshot version")

	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("analytics: engine closed")
)

// A DecodeError is an event line that the [Decoder] could not turn into an
// [Event]. Decoding may continue with the next line.
type DecodeError struct {
	Line int   // 1-based line number in the stream
	Err  error // what was wrong; wraps ErrInvalidEvent
}

func (e *DecodeError) Error() string {
	return "analytics: line " + strconv.Itoa(e.Line) + ": " + e.Err.Error()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// snapshotVersionError is ErrSnapshotVersion that also matches ErrSnapshot.
type snapshotVersionError struct{ got uint16 }

func (e snapshotVersionError) Error() string {
	return "analytics: unsupported snapshot version " + strconv.Itoa(int(e.got)) +
		" (this build reads versions " + strconv.Itoa(snapshotOldestRead) + " to " + strconv.Itoa(snapshotVersion) +
		"; a snapshot from a newer build cannot be restored by an older one)"
}

func (e snapshotVersionError) Is(target error) bool {
	return target == ErrSnapshotVersion || target == ErrSnapshot
}

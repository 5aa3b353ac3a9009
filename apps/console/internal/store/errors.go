package store

import "errors"

var (
	// ErrNotFound is returned when the asked-for record does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict is returned when a unique name, email or key is taken.
	ErrConflict = errors.New("store: conflict")
	// ErrStale is returned by a compare-and-swap update when the record
	// changed since it was read; read it again and retry.
	ErrStale = errors.New("store: changed since it was read")
	// ErrInvalid is returned for a record that fails validation.
	ErrInvalid = errors.New("store: invalid")
	// ErrTokenUsed is returned when a gateway registration token is
	// unknown, expired or already used.
	ErrTokenUsed = errors.New("store: registration token unknown or already used")
	// ErrUnsupported is returned by calls the backend cannot serve, such
	// as Listen on SQLite.
	ErrUnsupported = errors.New("store: not supported by this backend")
)

var (
	// ErrPoolFull is returned when the tunnel address pool has no free
	// address for a new device.
	ErrPoolFull = errors.New("store: tunnel address pool is full")
	// ErrQuota is returned when a user already holds as many devices as
	// their quota allows.
	ErrQuota = errors.New("store: device quota reached")
)

// ConflictError is the ErrConflict of a unique column: Table and Column
// name what is taken (for example "users" and "email"), so that callers
// can say which field to change. It never carries the driver's text.
type ConflictError struct {
	Table  string
	Column string
}

func (e *ConflictError) Error() string {
	return "store: conflict: " + e.Table + "." + e.Column + " is taken"
}

// Is makes errors.Is(err, ErrConflict) hold for a ConflictError.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

package controlplane

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by a Client after Close.
	ErrClosed = errors.New("controlplane: closed")
	// ErrUnauthorized is returned when the console refuses a token or a
	// credential; a revoked gateway sees it on every call.
	ErrUnauthorized = errors.New("controlplane: unauthorized")
	// ErrNotRegistered is returned by calls that need a credential before
	// Register succeeded.
	ErrNotRegistered = errors.New("controlplane: not registered")
	// ErrSpool wraps failures to read or write the event spool.
	ErrSpool = errors.New("controlplane: spool")
)

// Error is the error body of every console API answer that is not a
// success, on the control plane and the REST API alike.
type Error struct {
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Code is a stable machine-readable reason, e.g. "unauthorized",
	// "not_found", "invalid", "conflict".
	Code string `json:"code"`
	// Message says what went wrong, for people.
	Message string `json:"message"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("controlplane: console answered %d %s: %s", e.Status, e.Code, e.Message)
}

// Unwrap maps 401 and 403 answers to ErrUnauthorized.
func (e *Error) Unwrap() error {
	if e.Status == 401 || e.Status == 403 {
		return ErrUnauthorized
	}
	return nil
}

package domain

import (
	"errors"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// The error vocabulary of every operation. A transport maps these and
// only these to its answers (an HTTP status, a page message); anything
// else is internal and its text is logged, never shown.
var (
	// ErrNotFound: the thing named does not exist (or the actor may not
	// know that it does).
	ErrNotFound = errors.New("not found")
	// ErrForbidden: the actor may not do this to this thing.
	ErrForbidden = errors.New("forbidden")
	// ErrStale: the thing changed while the operation ran; reload and
	// try again.
	ErrStale = errors.New("it changed while this request was being handled; reload and try again")
)

// InvalidError is input an operation refuses, with the field at fault
// when there is one.
type InvalidError struct {
	Field   string // the input field, "" when the input as a whole is wrong
	Message string
}

func (e *InvalidError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Invalid returns an InvalidError about field.
func Invalid(field, message string) error { return &InvalidError{Field: field, Message: message} }

// ConflictError is an operation that would break a uniqueness or a
// limit: Code says which ("conflict", "quota", "pool_full"), Field the
// input to change when there is one.
type ConflictError struct {
	Code    string
	Field   string
	Message string
}

func (e *ConflictError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// UnauthorizedError is a credential (password, code, token) that does
// not prove who the caller says she is.
type UnauthorizedError struct{ Message string }

func (e *UnauthorizedError) Error() string { return e.Message }

// conflictFields says, for each unique column, which input field a
// person changes and why.
var conflictFields = map[string]InvalidError{
	"users.email":        {"email", "a user with this email already exists; use another email or edit that user"},
	"groups.name":        {"name", "a group with this name already exists; choose another name"},
	"gateways.name":      {"name", "a gateway with this name already exists; choose another name or remove that gateway"},
	"resources.name":     {"name", "a resource with this name already exists; choose another name"},
	"policies.name":      {"name", "a policy with this name already exists; choose another name"},
	"devices.public_key": {"public_key", "a device with this public key is already enrolled; generate a new key pair"},
	"devices.address":    {"address", "this tunnel address is already in use; leave it empty to get a free one"},
}

// fromStore turns a store error into the vocabulary above. Errors it
// does not know pass through unchanged: the transport logs them and
// answers "internal error".
func fromStore(err error) error {
	if err == nil {
		return nil
	}
	var conflict *store.ConflictError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, store.ErrStale):
		return ErrStale
	case errors.As(err, &conflict):
		if fe, ok := conflictFields[conflict.Table+"."+conflict.Column]; ok {
			return &ConflictError{Code: "conflict", Field: fe.Field, Message: fe.Message}
		}
		return &ConflictError{Code: "conflict", Message: "this already exists; choose another name"}
	case errors.Is(err, store.ErrConflict):
		// Conflicts the store words itself (an enrolment that changed).
		if msg := strings.TrimPrefix(err.Error(), store.ErrConflict.Error()+": "); msg != err.Error() {
			return &ConflictError{Code: "conflict", Message: msg}
		}
		return &ConflictError{Code: "conflict", Message: "this already exists; choose another name"}
	case errors.Is(err, store.ErrInvalid):
		return &InvalidError{Message: strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": ")}
	case errors.Is(err, store.ErrQuota):
		return &ConflictError{Code: "quota", Message: "device quota reached (" + strings.TrimPrefix(err.Error(), store.ErrQuota.Error()+": ") + "); remove a device first"}
	case errors.Is(err, store.ErrPoolFull):
		return &ConflictError{Code: "pool_full", Message: "the tunnel address pool is full; widen " + SettingWGNetwork}
	case errors.Is(err, store.ErrTokenUsed):
		return &UnauthorizedError{Message: "registration token unknown, expired or already used"}
	}
	return err
}

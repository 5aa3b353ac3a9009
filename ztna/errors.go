package ztna

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these where
// one applies, so callers can test with errors.Is.
var (
	// ErrClosed is returned by operations on a Gateway or Client after
	// Close.
	ErrClosed = errors.New("ztna: closed")

	// ErrInvalidConfig reports a configuration that cannot be used: a
	// YAML error (with its line), an unknown key, or a value out of range.
	ErrInvalidConfig = errors.New("ztna: invalid config")

	// ErrUnknownPeer is returned when a tunnel peer maps to no device in
	// the directory.
	ErrUnknownPeer = errors.New("ztna: unknown peer")

	// ErrDenied is the reason of a flow or request that policy refused.
	ErrDenied = errors.New("ztna: denied by policy")

	// ErrMFARequired is the reason of an access whose allowing rule asks
	// for a second factor the subject's session does not have.
	ErrMFARequired = errors.New("ztna: mfa required")

	// ErrRateLimited is the reason of a flow refused by a rate limit.
	ErrRateLimited = errors.New("ztna: rate limited")

	// ErrNoUpstream is the reason of an allowed flow whose resource has no
	// healthy upstream to dial.
	ErrNoUpstream = errors.New("ztna: no healthy upstream")

	// ErrMisdirected is the reason of an HTTP request refused with 421
	// because its Host names another resource than the one it was sent
	// to.
	ErrMisdirected = errors.New("ztna: misdirected request")

	// ErrRevoked is the reason of a live flow cut because a re-decision
	// (policy or identity change, risk, session expiry) denied it.
	ErrRevoked = errors.New("ztna: access revoked")

	// ErrDeviceAbsent is the reason of an import or connection refused
	// because the USB device or serial port, hosted by a connector, is
	// not there now (unplugged, or the connector unreachable).
	ErrDeviceAbsent = errors.New("ztna: device absent")
)

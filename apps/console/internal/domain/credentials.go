package domain

import "errors"

// The refusals of the credential operations (sign-in, re-authentication
// before a change of password or second factor). They join the
// vocabulary of errors.go: a transport answers each in its own way (the
// API with 401, 403 or 429, a page with its message).
var (
	// ErrLoginFailed: the email, password or code is wrong, or the
	// account is unknown, disabled or backed off; one answer for all,
	// so that it tells them apart to no one.
	ErrLoginFailed = errors.New("wrong email, password or code")
	// ErrReauth: a credential change gave a wrong password or code.
	ErrReauth = errors.New("wrong password or code")
	// ErrThrottled: too many attempts; the caller waits a little.
	ErrThrottled = errors.New("too many login attempts; wait a little")
)

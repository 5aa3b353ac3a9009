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
	// ErrAddressRefused: the organisation's allowlist keeps the
	// console from the client's address (see allowlist.go).
	ErrAddressRefused = errors.New("this organisation's console may not be used from your address")
	// ErrThrottled: too many attempts; the caller waits a little.
	ErrThrottled = errors.New("too many login attempts; wait a little")
	// ErrSSORequired: the organisation signs in with single sign-on
	// (SettingSSORequired); only its admins may still use a password.
	ErrSSORequired = errors.New("your organisation signs in with single sign-on: use your identity provider's button below (only admins may sign in with a password)")
	// ErrSSOFailed: a single sign-on did not prove who the person is
	// or names no one who may sign in; the audit log says why.
	ErrSSOFailed = errors.New("single sign-on failed; try again or ask your administrator")
	// ErrProviderUnavailable: the identity provider could not be
	// reached or answered wrongly; password sign-in still works.
	ErrProviderUnavailable = errors.New("the identity provider cannot be reached right now; try again later or sign in with your password")
)

package usbip

import "context"

type principalKey struct{}

// WithPrincipal returns a context carrying the identity the embedder
// authenticated for a connection; ServeConn, and Serve through
// ServerOptions.ConnContext, hand it to the Authorizer in
// AuthRequest.Principal. serialfwd takes its principal the same way.
func WithPrincipal(ctx context.Context, principal any) context.Context {
	return context.WithValue(ctx, principalKey{}, principal)
}

// PrincipalFrom returns the principal stored by WithPrincipal, or nil.
func PrincipalFrom(ctx context.Context) any {
	return ctx.Value(principalKey{})
}

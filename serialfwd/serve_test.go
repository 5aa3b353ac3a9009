package serialfwd

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// TestServePrincipalAndClose checks that a connection accepted by Serve
// reaches the authorisation hook with the principal ConnContext put in its
// context, that Serve returns nil once the Server is closed, and ErrClosed
// when called after that.
func TestServePrincipalAndClose(t *testing.T) {
	seen := make(chan any, 1)
	srv := NewServer(&ServerOptions{
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return WithPrincipal(ctx, "via-ctx")
		},
		Authorize: func(ctx context.Context, req AuthRequest) error {
			seen <- req.Principal
			return errors.New("only looking")
		},
	})
	if err := srv.AddPort(PortConfig{Name: "p", Open: func(context.Context) (Device, error) {
		return nil, errors.New("no device")
	}}); err != nil {
		t.Fatal(err)
	}
	l := listen(t)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l, "p", ProtocolRaw) }()
	c := dial(t, l.Addr().String())
	defer c.Close()
	select {
	case p := <-seen:
		if p != "via-ctx" {
			t.Errorf("hook saw principal %v, want via-ctx", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("connection never reached the hook")
	}
	srv.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after Close: %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
	if err := srv.Serve(listen(t), "p", ProtocolRaw); !errors.Is(err, ErrClosed) {
		t.Errorf("Serve on a closed Server: %v, want ErrClosed", err)
	}
}

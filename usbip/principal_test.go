package usbip_test

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/gonaut/gonaut/usbip"
	"github.com/gonaut/gonaut/usbip/sim"
)

// TestServePrincipal checks that a connection accepted by Serve reaches
// the authorizer with the principal ConnContext put in its context, and
// that the deprecated Principal option still works, ConnContext seeing
// its result.
func TestServePrincipal(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts usbip.ServerOptions
		want any
	}{
		{"ConnContext", usbip.ServerOptions{ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return usbip.WithPrincipal(ctx, "via-ctx")
		}}, "via-ctx"},
		{"Principal", usbip.ServerOptions{Principal: func(net.Conn) any { return "via-option" }}, "via-option"},
		{"both", usbip.ServerOptions{
			Principal: func(net.Conn) any { return "first" },
			ConnContext: func(ctx context.Context, c net.Conn) context.Context {
				return usbip.WithPrincipal(ctx, usbip.PrincipalFrom(ctx).(string)+"+second")
			},
		}, "first+second"},
		{"none", usbip.ServerOptions{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []any
			opts := tc.opts
			opts.Authorize = func(_ context.Context, r usbip.AuthRequest) error {
				mu.Lock()
				got = append(got, r.Principal)
				mu.Unlock()
				return nil
			}
			srv := startServer(t, &opts, sim.NewKeyboard("K"))
			if _, err := usbip.List(testCtx(t), dial(t, srv.addr)); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("authorizer saw %v, want [%v]", got, tc.want)
			}
		})
	}
}

// TestServeConnPrincipalFromContext checks that ServeConn reads the
// principal from its context when the deprecated argument is nil, and that
// the argument, when given, wins.
func TestServeConnPrincipalFromContext(t *testing.T) {
	got := make(chan any, 2)
	srv := usbip.NewServer(&usbip.ServerOptions{Authorize: func(_ context.Context, r usbip.AuthRequest) error {
		got <- r.Principal
		return nil
	}})
	defer srv.Close()
	srv.Add("1-1", sim.NewKeyboard("K"))
	for _, tc := range []struct{ arg, want any }{{nil, "ctx"}, {"arg", "arg"}} {
		a, b := net.Pipe()
		go srv.ServeConn(usbip.WithPrincipal(context.Background(), "ctx"), b, tc.arg)
		if _, err := usbip.List(testCtx(t), a); err != nil {
			t.Fatal(err)
		}
		a.Close()
		if p := <-got; p != tc.want {
			t.Errorf("argument %v: authorizer saw %v, want %v", tc.arg, p, tc.want)
		}
	}
}

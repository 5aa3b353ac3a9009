package tunnel_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/gonaut/gonaut/tunnel"
)

// Two tunnels in one process, peered over loopback UDP: one serves HTTP
// inside the tunnel, the other fetches from it.
func Example() {
	ctx := context.Background()
	serverKey, _ := tunnel.GeneratePrivateKey()
	clientKey, _ := tunnel.GeneratePrivateKey()

	server, err := tunnel.New(ctx, tunnel.Config{
		PrivateKey: serverKey,
		Addresses:  []netip.Prefix{netip.MustParsePrefix("10.77.0.1/24")},
		Peers: []tunnel.PeerConfig{{
			PublicKey:  clientKey.PublicKey(),
			AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.77.0.2/32")},
		}},
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer server.Close()
	l, _ := server.Listen("tcp", ":80")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, _ := server.WhoIs(netip.MustParseAddrPort(r.RemoteAddr).Addr())
		fmt.Fprintf(w, "hello, peer %t", peer == clientKey.PublicKey())
	})}
	go srv.Serve(l)
	defer srv.Close()

	client, err := tunnel.New(ctx, tunnel.Config{
		PrivateKey: clientKey,
		Addresses:  []netip.Prefix{netip.MustParsePrefix("10.77.0.2/24")},
		Peers: []tunnel.PeerConfig{{
			PublicKey:  server.PublicKey(),
			Endpoint:   fmt.Sprintf("127.0.0.1:%d", server.ListenPort()),
			AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.77.0.1/32")},
		}},
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	resp, err := client.HTTPClient().Get("http://10.77.0.1/")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))
	// Output: hello, peer true
}

// A gateway refuses or accepts each flow, to any address behind it, before
// the TCP handshake completes.
func ExampleFlowHandler() {
	ctx := context.Background()
	gwKey, _ := tunnel.GeneratePrivateKey()
	clientKey, _ := tunnel.GeneratePrivateKey()
	gw, _ := tunnel.New(ctx, tunnel.Config{
		PrivateKey: gwKey,
		Addresses:  []netip.Prefix{netip.MustParsePrefix("10.77.0.1/24")},
		Peers: []tunnel.PeerConfig{{
			PublicKey:  clientKey.PublicKey(),
			AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.77.0.2/32")},
		}},
	}, &tunnel.Options{FlowHandler: func(ctx context.Context, f *tunnel.Flow) {
		if f.Destination.Port() != 443 {
			f.Refuse()
			return
		}
		c, err := f.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(c, "you reached %v", f.Destination)
	}})
	defer gw.Close()

	client, _ := tunnel.New(ctx, tunnel.Config{
		PrivateKey: clientKey,
		Addresses:  []netip.Prefix{netip.MustParsePrefix("10.77.0.2/24")},
		Peers: []tunnel.PeerConfig{{
			PublicKey: gw.PublicKey(),
			Endpoint:  fmt.Sprintf("127.0.0.1:%d", gw.ListenPort()),
			// Everything in 192.168.50.0/24 is behind the gateway.
			AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.77.0.1/32"), netip.MustParsePrefix("192.168.50.0/24")},
		}},
	}, nil)
	defer client.Close()

	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c, err := client.Dial(dctx, "tcp", "192.168.50.10:443")
	if err != nil {
		fmt.Println(err)
		return
	}
	msg, _ := io.ReadAll(c)
	c.Close()
	fmt.Println(string(msg))
	_, err = client.Dial(dctx, "tcp", "192.168.50.10:22")
	fmt.Println("port 22 refused:", err != nil && strings.Contains(err.Error(), "refused"))
	// Output:
	// you reached 192.168.50.10:443
	// port 22 refused: true
}

func ExampleParseConfig() {
	c, err := tunnel.ParseConfig([]byte(`
[Interface]
PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=
Address = 10.77.0.2/24
DNS = 10.77.0.1

[Peer]
PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
Endpoint = gateway.example.com:51820
AllowedIPs = 10.77.0.0/24
PersistentKeepalive = 25
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Addresses[0], c.Peers[0].Endpoint, c.Peers[0].PersistentKeepalive)
	text, _ := c.MarshalText()
	os.Stdout.Write(text)
	// Output:
	// 10.77.0.2/24 gateway.example.com:51820 25s
	// [Interface]
	// PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=
	// Address = 10.77.0.2/24
	// DNS = 10.77.0.1
	//
	// [Peer]
	// PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
	// AllowedIPs = 10.77.0.0/24
	// Endpoint = gateway.example.com:51820
	// PersistentKeepalive = 25
}

// A generated private key is clamped (RFC 7748): the low three bits
// clear, the top bit clear and the next one set.
func ExampleGeneratePrivateKey() {
	priv, err := tunnel.GeneratePrivateKey()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(priv[0]&7 == 0, priv[31]&0x80 == 0, priv[31]&0x40 != 0, !priv.PublicKey().IsZero())
	// Output: true true true true
}

func ExampleKey_PublicKey() {
	priv, _ := tunnel.ParseKey("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=")
	fmt.Println(priv.PublicKey())
	// Output: hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=
}

// A control plane hands the gateway its whole peer set as a bundle; here
// the address 10.77.0.2 moves from one device to another in one step, and
// a bundle giving two devices one address is refused whole.
func ExampleTunnel_SetPeers() {
	ctx := context.Background()
	gwKey, _ := tunnel.GeneratePrivateKey()
	oldKey, _ := tunnel.GeneratePrivateKey()
	newKey, _ := tunnel.GeneratePrivateKey()
	device := func(k tunnel.Key, addr string) tunnel.PeerConfig {
		return tunnel.PeerConfig{PublicKey: k.PublicKey(), AllowedIPs: []netip.Prefix{netip.MustParsePrefix(addr)}}
	}
	gw, err := tunnel.New(ctx, tunnel.Config{
		PrivateKey: gwKey,
		Addresses:  []netip.Prefix{netip.MustParsePrefix("10.77.0.1/24")},
		Peers:      []tunnel.PeerConfig{device(oldKey, "10.77.0.2/32")},
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer gw.Close()

	err = gw.SetPeers(ctx, []tunnel.PeerConfig{device(newKey, "10.77.0.2/32"), device(oldKey, "10.77.0.3/32")})
	fmt.Println("moved:", err)
	k, _ := gw.WhoIs(netip.MustParseAddr("10.77.0.2"))
	fmt.Println("10.77.0.2 is the new device:", k == newKey.PublicKey())

	err = gw.SetPeers(ctx, []tunnel.PeerConfig{device(newKey, "10.77.0.2/32"), device(oldKey, "10.77.0.2/32")})
	fmt.Println("overlap refused:", errors.Is(err, tunnel.ErrInvalidConfig))
	k, _ = gw.WhoIs(netip.MustParseAddr("10.77.0.3"))
	fmt.Println("set unchanged:", k == oldKey.PublicKey())
	// Output:
	// moved: <nil>
	// 10.77.0.2 is the new device: true
	// overlap refused: true
	// set unchanged: true
}

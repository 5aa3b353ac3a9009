package tunnel_test

import (
	"context"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/gonaut/gonaut/tunnel"
	"golang.org/x/net/dns/dnsmessage"
)

// TestDialResolvesThroughTunnelDNS gives the client a DNS server that
// exists only inside the tunnel (a tiny responder on the other end) and
// dials a host name: the query and the connection both go through the
// tunnel.
func TestDialResolvesThroughTunnelDNS(t *testing.T) {
	srv := newNode(t, 2, nil)
	key := mustKey(t)
	client, err := tunnel.New(context.Background(), tunnel.Config{
		PrivateKey: key,
		Addresses:  []netip.Prefix{netip.MustParsePrefix("10.99.0.1/32")},
		DNS:        []netip.Addr{srv.v4},
		Peers: []tunnel.PeerConfig{{
			PublicKey:  srv.PublicKey(),
			Endpoint:   srv.endpoint(),
			AllowedIPs: []netip.Prefix{netip.PrefixFrom(srv.v4, 32)},
		}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := srv.SetPeer(context.Background(), tunnel.PeerConfig{PublicKey: key.PublicKey(),
		AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.99.0.1/32")}}); err != nil {
		t.Fatal(err)
	}

	// A DNS responder: every A query for app.internal. answers srv.v4.
	pc, err := srv.ListenPacket("udp", netip.AddrPortFrom(srv.v4, 53).String())
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
			b.StartQuestions()
			b.Question(q)
			b.StartAnswers()
			if q.Type == dnsmessage.TypeA && q.Name.String() == "app.internal." {
				b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: srv.v4.As4()})
			}
			msg, _ := b.Finish()
			pc.WriteTo(msg, from)
		}
	}()
	l, err := srv.Listen("tcp", ":8053")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			io.WriteString(c, "resolved")
			c.Close()
		}
	}()
	c, err := client.Dial(testCtx(t, 30*time.Second), "tcp4", "app.internal:8053")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	c.Close()
	if string(b) != "resolved" {
		t.Fatalf("got %q", b)
	}
}

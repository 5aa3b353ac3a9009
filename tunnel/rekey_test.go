package tunnel_test

import (
	"io"
	"net/netip"
	"testing"
	"time"
)

// TestRekeyLongRun keeps a TCP connection busy across wireguard-go's
// RekeyAfterTime (120 s, a constant of wireguard-go): the session is
// renewed with a new handshake while the connection carries on. It takes
// over two minutes, so it runs in parallel with the rest and not in -short
// mode.
func TestRekeyLongRun(t *testing.T) {
	if testing.Short() {
		t.Skip("takes over two minutes")
	}
	t.Parallel()
	a, b := newPair(t, nil, nil)
	l, err := b.Listen("tcp", ":7100")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	c, err := a.Dial(testCtx(t, 20*time.Second), "tcp", netip.AddrPortFrom(b.v4, 7100).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := []byte("tick")
	buf := make([]byte, len(msg))
	echo := func() {
		t.Helper()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
	}
	echo()
	first := a.Peers()[0].LastHandshake
	deadline := time.Now().Add(150 * time.Second)
	for time.Now().Before(deadline) {
		echo()
		if hs := a.Peers()[0].LastHandshake; hs.After(first) && b.Peers()[0].LastHandshake.After(first) {
			echo()
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("no new handshake within 150s of the first (%v)", first)
}

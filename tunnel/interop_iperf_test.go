package tunnel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/gonaut/gonaut/tunnel"
)

// splice copies both ways between a and b until both directions end.
func splice(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(2)
	cp := func(dst, src net.Conn) {
		defer wg.Done()
		io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			dst.Close()
		}
	}
	go cp(a, b)
	go cp(b, a)
	wg.Wait()
	a.Close()
	b.Close()
}

// TestInteropIperf3ThroughGateway is the gateway path end to end with real
// tools: iperf3 in the namespace, behind wireguard-go, connects to a
// service address behind a Gonaut tunnel; the FlowHandler accepts the flows
// and splices them to an iperf3 server on the host's loopback.
func TestInteropIperf3ThroughGateway(t *testing.T) {
	needTools(t, "ip", "wg", "wireguard-go", "iperf3")
	port := freeTCPPort(t)
	srv := exec.Command("iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", fmt.Sprint(port))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	service := netip.MustParseAddrPort("10.100.0.1:5201")
	g := newNode(t, 1, &tunnel.Options{FlowHandler: func(ctx context.Context, f *tunnel.Flow) {
		if f.Protocol != tunnel.TCP || f.Destination != service {
			f.Refuse()
			return
		}
		var d net.Dialer
		up, err := d.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			f.Refuse()
			return
		}
		c, err := f.Accept()
		if err != nil {
			up.Close()
			return
		}
		splice(c, up)
	}})
	k := newKernelPeer(t, g, netip.MustParseAddr("10.99.0.2"), "10.100.0.0/16")
	ctx := testCtx(t, 60*time.Second)
	var out string
	var err error
	for i := 0; i < 20; i++ { // the iperf3 server may still be starting
		out, err = k.exec(t, ctx, "iperf3 -c 10.100.0.1 -p 5201 -t 2 -J")
		if err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("iperf3: %v\n%s", err, out)
	}
	var res struct {
		End struct {
			SumReceived struct {
				Bytes         float64 `json:"bytes"`
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("iperf3 JSON: %v\n%s", err, out)
	}
	if res.End.SumReceived.Bytes == 0 {
		t.Fatalf("iperf3 moved nothing:\n%s", out)
	}
	t.Logf("iperf3 through wireguard-go -> Gonaut gateway -> loopback: %.2f Gbit/s", res.End.SumReceived.BitsPerSecond/1e9)
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

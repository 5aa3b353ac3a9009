package usbip_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gonaut/gonaut/usbip"
	"github.com/gonaut/gonaut/usbip/sim"
)

type principal struct{ user string }

// ServeConn hands the embedder's principal to the authorizer on both
// DEVLIST (filtering) and IMPORT (deciding); the static filter applies
// first.
func TestServeConnPrincipalAndFilter(t *testing.T) {
	var mu sync.Mutex
	var seen []usbip.AuthRequest
	deny, _ := usbip.ParseRule("id=1209:0002")
	srv := usbip.NewServer(&usbip.ServerOptions{
		Filter: &usbip.Filter{Deny: []usbip.Rule{deny}},
		Authorize: func(_ context.Context, r usbip.AuthRequest) error {
			mu.Lock()
			seen = append(seen, r)
			mu.Unlock()
			p, _ := r.Principal.(principal)
			if p.user == "alice" || r.Device.Serial == "PUBLIC" {
				return nil
			}
			return errors.New("not alice")
		},
	})
	defer srv.Close()
	srv.Add("1-1", sim.NewKeyboard("PUBLIC"))
	srv.Add("1-2", sim.NewSerial("ACM"))
	srv.Add("1-3", sim.NewStorage("SECRET", 1<<16))

	serve := func(p principal) net.Conn {
		a, b := net.Pipe()
		go srv.ServeConn(context.Background(), b, p)
		return a
	}
	ctx := testCtx(t)
	devs, err := usbip.List(ctx, serve(principal{"bob"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 || devs[0].BusID != "1-1" {
		t.Fatalf("bob sees %+v", devs)
	}
	devs, err = usbip.List(ctx, serve(principal{"alice"}))
	if err != nil || len(devs) != 2 || devs[1].BusID != "1-3" {
		t.Fatalf("alice sees %+v %v", devs, err)
	}
	if _, err := usbip.Import(ctx, serve(principal{"bob"}), "1-3", nil); !errors.Is(err, usbip.ErrDenied) {
		t.Fatalf("bob imports 1-3: %v", err)
	}
	if _, err := usbip.Import(ctx, serve(principal{"alice"}), "1-2", nil); !errors.Is(err, usbip.ErrDenied) {
		t.Fatalf("filtered 1-2: %v", err)
	}
	d, err := usbip.Import(ctx, serve(principal{"alice"}), "1-3", nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Info().Serial != "SECRET" {
		t.Errorf("serial %q", d.Info().Serial)
	}
	d.Close()
	mu.Lock()
	defer mu.Unlock()
	var imports int
	for _, r := range seen {
		if r.Op == usbip.OpImport {
			imports++
			if r.Principal == nil || r.BusID == "" {
				t.Errorf("import request without principal or bus id: %+v", r)
			}
		}
		if r.BusID == "1-2" {
			t.Errorf("authorizer asked about a device the filter denies: %+v", r)
		}
	}
	if imports != 2 {
		t.Errorf("authorizer saw %d imports, want 2", imports)
	}
}

func TestParseRule(t *testing.T) {
	r, err := usbip.ParseRule("busid=1-2 id=1209:* serial=X")
	if err != nil || r != (usbip.Rule{BusID: "1-2", Vendor: 0x1209, Serial: "X"}) {
		t.Fatalf("%+v %v", r, err)
	}
	for _, bad := range []string{"vid=1", "id=zz:1", "id=1209", "busid"} {
		if _, err := usbip.ParseRule(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	info := usbip.DeviceInfo{Vendor: 0x1209, Product: 2, Serial: "X"}
	f := &usbip.Filter{Allow: []usbip.Rule{{Vendor: 0x1209}}, Deny: []usbip.Rule{{Serial: "Y"}}}
	if !f.Permits("1-1", &info) {
		t.Error("allowed vendor refused")
	}
	info.Serial = "Y"
	if f.Permits("1-1", &info) {
		t.Error("denied serial permitted")
	}
	info.Vendor = 1
	info.Serial = ""
	if f.Permits("1-1", &info) {
		t.Error("vendor outside allow list permitted")
	}
}

// rawImport imports busID over a raw connection and returns it, positioned
// at the URB phase.
func rawImport(t *testing.T, addr, busID string) net.Conn {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := dial(t, addr)
		_, err := usbip.ImportHandshake(testCtx(t), c, busID)
		if err == nil {
			t.Cleanup(func() { c.Close() })
			return c
		}
		c.Close()
		if !errors.Is(err, usbip.ErrBusy) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func submitHeader(seq uint32, ep uint32, in bool, length uint32, setup [8]byte) []byte {
	b := make([]byte, 48)
	binary.BigEndian.PutUint32(b[0:], 1)
	binary.BigEndian.PutUint32(b[4:], seq)
	binary.BigEndian.PutUint32(b[8:], 1<<16|1)
	if in {
		binary.BigEndian.PutUint32(b[12:], 1)
	}
	binary.BigEndian.PutUint32(b[16:], ep)
	binary.BigEndian.PutUint32(b[24:], length)
	copy(b[40:], setup[:])
	return b
}

func unlinkHeader(seq, victim uint32) []byte {
	b := make([]byte, 48)
	binary.BigEndian.PutUint32(b[0:], 2)
	binary.BigEndian.PutUint32(b[4:], seq)
	binary.BigEndian.PutUint32(b[20:], victim)
	return b
}

// readReply reads one 48-byte reply header (and an IN payload of the
// given length when status is 0).
func readReply(t *testing.T, c net.Conn) (cmd, seq uint32, status int32, actual uint32) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 48)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	return binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:]), int32(binary.BigEndian.Uint32(b[20:])), binary.BigEndian.Uint32(b[24:])
}

// UNLINK at the wire level: −ECONNRESET and no RET_SUBMIT for a pending
// URB; status 0 for one whose RET_SUBMIT already went out.
func TestUnlinkWire(t *testing.T) {
	srv := startServer(t, nil, sim.NewKeyboard("K"))
	c := rawImport(t, srv.addr, "1-1")
	getDev := [8]byte{0x80, 6, 0, 1, 0, 0, 18, 0}

	c.Write(submitHeader(1, 1, true, 8, [8]byte{})) // pending interrupt IN
	c.Write(submitHeader(2, 0, true, 18, getDev))
	cmd, seq, st, n := readReply(t, c)
	if cmd != 3 || seq != 2 || st != 0 || n != 18 {
		t.Fatalf("RET_SUBMIT cmd=%d seq=%d st=%d n=%d", cmd, seq, st, n)
	}
	io.ReadFull(c, make([]byte, 18))

	c.Write(unlinkHeader(3, 1))
	if cmd, seq, st, _ := readReply(t, c); cmd != 4 || seq != 3 || st != -104 {
		t.Fatalf("RET_UNLINK of pending: cmd=%d seq=%d st=%d", cmd, seq, st)
	}
	c.Write(unlinkHeader(4, 2))
	if cmd, seq, st, _ := readReply(t, c); cmd != 4 || seq != 4 || st != 0 {
		t.Fatalf("RET_UNLINK of completed: cmd=%d seq=%d st=%d", cmd, seq, st)
	}
	// The next reply is for a new URB, not a late RET_SUBMIT of seq 1.
	c.Write(submitHeader(5, 0, true, 18, getDev))
	if cmd, seq, _, _ := readReply(t, c); cmd != 3 || seq != 5 {
		t.Fatalf("after unlinks: cmd=%d seq=%d", cmd, seq)
	}
}

// Every hardening check closes the connection with a logged reason, and
// the server keeps serving (and the device is importable again).
func TestProtocolViolationsCloseConnection(t *testing.T) {
	rec := &logRecorder{}
	srv := startServer(t, &usbip.ServerOptions{Logger: slog.New(rec), MaxTransferSize: 1 << 20, MaxInFlight: 4}, sim.NewStorage("M", 1<<16))
	bad := map[string][][]byte{
		"unknown command":  {func() []byte { b := submitHeader(1, 1, true, 8, [8]byte{}); b[3] = 7; return b }()},
		"endpoint absent":  {submitHeader(1, 5, true, 8, [8]byte{})},
		"length over cap":  {submitHeader(1, 1, true, 1<<20+1, [8]byte{})},
		"direction 7":      {func() []byte { b := submitHeader(1, 1, true, 8, [8]byte{}); b[15] = 7; return b }()},
		"duplicate seqnum": {submitHeader(1, 1, true, 8, [8]byte{}), submitHeader(1, 1, true, 8, [8]byte{})},
		"too many in flight": {
			submitHeader(1, 1, true, 8, [8]byte{}), submitHeader(2, 1, true, 8, [8]byte{}), submitHeader(3, 1, true, 8, [8]byte{}),
			submitHeader(4, 1, true, 8, [8]byte{}), submitHeader(5, 1, true, 8, [8]byte{}),
		},
	}
	for name, msgs := range bad {
		t.Run(name, func(t *testing.T) {
			c := rawImport(t, srv.addr, "1-1")
			for _, m := range msgs {
				c.Write(m)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.Copy(io.Discard, c); err != nil {
				t.Fatalf("connection not closed cleanly: %v", err)
			}
			waitImportable(t, srv.addr, "1-1").Close()
		})
	}
	if !rec.has("usbip: closing connection") || !rec.has("protocol violation") {
		t.Errorf("no logged reason: %q", rec.all())
	}
	// Operation phase: a wrong version closes too.
	c := dial(t, srv.addr)
	defer c.Close()
	c.Write([]byte{0x01, 0x00, 0x80, 0x05, 0, 0, 0, 0})
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, _ := io.Copy(io.Discard, c); n != 0 {
		t.Errorf("server answered a bad version with %d bytes", n)
	}
}

// isoEcho is a test double for an isochronous device: none of the
// simulated devices has an isochronous endpoint, so this one exercises
// the ISO path of the server and client. OUT packets are remembered, IN
// packets return them, each packet short by one byte.
type isoEcho struct {
	mu   sync.Mutex
	last []byte
}

func (e *isoEcho) Info() usbip.DeviceInfo {
	return usbip.DeviceInfo{Speed: usbip.SpeedHigh, Vendor: 0x1209, Product: 0x000f, Interfaces: []usbip.Interface{{
		Class: 1, SubClass: 2, Endpoints: []usbip.Endpoint{
			{Address: 0x81, Type: usbip.TransferIsochronous, MaxPacketSize: 192},
			{Address: 0x02, Type: usbip.TransferIsochronous, MaxPacketSize: 192},
		}}}}
}
func (e *isoEcho) Control(context.Context, usbip.Setup, []byte) (int, error) {
	return 0, usbip.ErrStall
}
func (e *isoEcho) Transfer(context.Context, uint8, []byte) (int, error) { return 0, usbip.ErrStall }
func (e *isoEcho) Isochronous(_ context.Context, ep uint8, data []byte, ps []usbip.IsoPacket) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	total := 0
	if ep == 0x02 {
		e.last = append([]byte(nil), data...)
		for i := range ps {
			ps[i].ActualLength = ps[i].Length
			total += int(ps[i].Length)
		}
		return total, nil
	}
	for i := range ps {
		p := &ps[i]
		n := copy(data[p.Offset:p.Offset+p.Length-1], e.last[p.Offset:])
		p.ActualLength = uint32(n)
		total += n
	}
	return total, nil
}
func (e *isoEcho) Reset(context.Context) error { return nil }
func (e *isoEcho) Close() error                { return nil }

func TestIsochronous(t *testing.T) {
	srv := startServer(t, nil, &isoEcho{})
	d, err := usbip.Import(testCtx(t), dial(t, srv.addr), "1-1", &usbip.ClientOptions{SkipDescriptors: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := testCtx(t)
	out := make([]byte, 3*64)
	for i := range out {
		out[i] = byte(i)
	}
	pk := func() []usbip.IsoPacket {
		return []usbip.IsoPacket{{Offset: 0, Length: 64}, {Offset: 64, Length: 64}, {Offset: 128, Length: 64}}
	}
	ps := pk()
	if n, err := d.Isochronous(ctx, 0x02, out, ps); err != nil || n != 192 || ps[2].ActualLength != 64 {
		t.Fatalf("ISO OUT n=%d err=%v %+v", n, err, ps)
	}
	in := make([]byte, 192)
	ps = pk()
	n, err := d.Isochronous(ctx, 0x81, in, ps)
	if err != nil || n != 189 {
		t.Fatalf("ISO IN n=%d err=%v", n, err)
	}
	for i, p := range ps {
		if p.ActualLength != 63 {
			t.Fatalf("packet %d actual %d", i, p.ActualLength)
		}
		for j := range 63 {
			if in[int(p.Offset)+j] != out[int(p.Offset)+j] {
				t.Fatalf("packet %d byte %d: %d != %d", i, j, in[int(p.Offset)+j], out[int(p.Offset)+j])
			}
		}
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	srv := usbip.NewServer(nil)
	srv.Add("", sim.NewKeyboard("K"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	d := importDev(t, ln.Addr().String(), "1-1")
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
	if _, err := d.Transfer(testCtx(t), sim.KeyboardEndpoint, make([]byte, 8)); !errors.Is(err, usbip.ErrClosed) {
		t.Fatalf("transfer after server Close: %v", err)
	}
	d.Close()
	d.Close()
	if _, err := srv.Add("", sim.NewKeyboard("K")); !errors.Is(err, usbip.ErrClosed) {
		t.Errorf("Add after Close: %v", err)
	}
}

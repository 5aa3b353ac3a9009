package serialfwd

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

// TestLoadNoLoss moves 2 MiB of random bytes (so plenty of 0xFF to escape)
// each way at once through the Gonaut client and server and a pty pair,
// with small buffers on the way, and checks nothing is lost or reordered.
func TestLoadNoLoss(t *testing.T) {
	pp := newPtyPair(t)
	_, addr := serve(t, nil, PortConfig{Name: "pty", Open: SerialOpener(pp.A, Mode{}), QueueChunks: 2}, ProtocolRFC2217)
	far, err := openSerial(pp.B, Mode{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	c, err := Dial(ctxTimeout(t, 10*time.Second), addr, &ClientOptions{BufferBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	const size = 2 << 20
	rng := rand.New(rand.NewPCG(1, 2))
	up, down := make([]byte, size), make([]byte, size)
	for i := range up {
		up[i], down[i] = byte(rng.Uint32()), byte(rng.Uint32())
	}
	errc := make(chan error, 2)
	go func() { _, err := c.Write(up); errc <- err }()
	go func() { _, err := far.Write(down); errc <- err }()
	gotUp := make(chan []byte, 1)
	go func() {
		b := make([]byte, size)
		io.ReadFull(far, b)
		gotUp <- b
	}()
	gotDown := readFull(t, c, size, 60*time.Second)
	var upRecv []byte
	select {
	case upRecv = <-gotUp:
	case <-time.After(60 * time.Second):
		t.Fatal("device side did not receive everything")
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(upRecv, up) {
		t.Fatal("client to device: bytes lost or reordered")
	}
	if !bytes.Equal(gotDown, down) {
		t.Fatal("device to client: bytes lost or reordered")
	}
}

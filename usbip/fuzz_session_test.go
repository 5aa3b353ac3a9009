package usbip_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gonaut/gonaut/usbip"
	"github.com/gonaut/gonaut/usbip/sim"
)

// FuzzServerSession feeds a whole server arbitrary bytes after a valid
// import, as a hostile importer would: the server must neither panic nor
// hang, and must leave the device importable.
func FuzzServerSession(f *testing.F) {
	getDev := submitHeader(1, 0, true, 18, [8]byte{0x80, 6, 0, 1, 0, 0, 18, 0})
	f.Add(getDev)
	cbw := make([]byte, 31)
	binary.LittleEndian.PutUint32(cbw, 0x43425355)
	f.Add(append(submitHeader(2, 2, false, 31, [8]byte{}), cbw...))
	f.Add(append(submitHeader(3, 1, true, 512, [8]byte{}), unlinkHeader(4, 3)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		srv := usbip.NewServer(&usbip.ServerOptions{MaxTransferSize: 1 << 16})
		defer srv.Close()
		srv.Add("1-1", sim.NewStorage("M", 1<<16))
		for range 2 {
			client, server := net.Pipe()
			done := make(chan struct{})
			go func() {
				srv.ServeConn(context.Background(), server, nil)
				close(done)
			}()
			drained := make(chan struct{})
			go func() {
				io.Copy(io.Discard, client)
				close(drained)
			}()
			req := make([]byte, 40)
			binary.BigEndian.PutUint16(req, usbip.Version)
			binary.BigEndian.PutUint16(req[2:], 0x8003)
			copy(req[8:], "1-1")
			client.SetWriteDeadline(time.Now().Add(5 * time.Second))
			client.Write(req)
			client.Write(b)
			// Let pending URBs sit for a moment, then disconnect.
			time.Sleep(time.Millisecond)
			client.Close()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("server hung after disconnect")
			}
			<-drained
		}
		client, server := net.Pipe()
		go srv.ServeConn(context.Background(), server, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d, err := usbip.Import(ctx, client, "1-1", nil)
		if err != nil {
			t.Fatalf("device not importable after the session: %v", err)
		}
		d.Close()
	})
}

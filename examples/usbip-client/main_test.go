package main

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/gonaut/gonaut/usbip"
	"github.com/gonaut/gonaut/usbip/sim"
)

func TestClientReadsEveryDevice(t *testing.T) {
	srv := usbip.NewServer(nil)
	kbd := sim.NewKeyboard("K")
	srv.Add("1-1", kbd)
	srv.Add("1-2", sim.NewSerial("S"))
	srv.Add("1-3", sim.NewStorage("M", 1<<20))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	defer func() { srv.Close(); <-done }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go kbd.Type(ctx, "abc")
	for _, busID := range []string{"", "1-1", "1-2", "1-3"} {
		if err := run(ctx, ln.Addr().String(), busID, 3); err != nil {
			t.Errorf("busid %q: %v", busID, err)
		}
	}
}

package serialfwd

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzServerSession feeds arbitrary client bytes to an RFC 2217 session on
// an in-memory device: the session must neither panic nor hang, and must
// end when the client goes.
func FuzzServerSession(f *testing.F) {
	f.Add([]byte{tnIAC, tnWILL, optComPort, tnIAC, tnSB, optComPort, cpSetBaudRate, 0xFF, 0xFF, 0xFF, 0xFF, tnIAC, tnSE})
	f.Add([]byte{tnIAC, tnSB, optComPort, cpSetControl, 99, tnIAC, tnSE, 'x', tnIAC, tnIAC})
	f.Add([]byte{tnIAC, tnSB, optComPort, cpPurgeData, 3, tnIAC, tnSE, tnIAC, tnSB, optComPort, cpFlowControlSuspend, tnIAC, tnSE})
	f.Fuzz(func(t *testing.T, in []byte) {
		dev := newMemDevice()
		srv := NewServer(nil)
		defer srv.Close()
		srv.AddPort(PortConfig{Name: "mem", ModemPoll: -1, Open: func(context.Context) (Device, error) { return dev, nil }})
		server, client := net.Pipe()
		done := make(chan error, 1)
		go func() { done <- srv.ServeConn(context.Background(), server, "mem", ProtocolRFC2217) }()
		go io.Copy(io.Discard, client)
		client.SetWriteDeadline(time.Now().Add(5 * time.Second))
		client.Write(in)
		client.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("session did not end after the client left")
		}
	})
}

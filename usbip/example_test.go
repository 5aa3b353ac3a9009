package usbip_test

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/gonaut/gonaut/usbip"
	"github.com/gonaut/gonaut/usbip/sim"
)

// A server exporting a simulated keyboard on a TCP listener, listed by the
// userspace client.
func ExampleServer() {
	srv := usbip.NewServer(nil)
	defer srv.Close()
	busID, _ := srv.Add("", sim.NewKeyboard("KBD-1"))

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)

	conn, _ := net.Dial("tcp", ln.Addr().String())
	defer conn.Close()
	devs, err := usbip.List(context.Background(), conn)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range devs {
		fmt.Printf("%s %04x:%04x interface class %d\n", d.BusID, d.Vendor, d.Product, d.Interfaces[0].Class)
	}
	fmt.Println(busID == devs[0].BusID)
	// Output:
	// 1-1 1209:0001 interface class 3
	// true
}

// Importing a device and driving it from Go: bytes written to a simulated
// CDC-ACM serial adapter come back through its loopback.
func ExampleImport() {
	srv := usbip.NewServer(nil)
	defer srv.Close()
	srv.Add("1-1", sim.NewSerial("ACM-1"))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)

	ctx := context.Background()
	conn, _ := net.Dial("tcp", ln.Addr().String())
	dev, err := usbip.Import(ctx, conn, "1-1", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dev.Close()
	dev.Control(ctx, usbip.Setup{Request: usbip.RequestSetConfiguration, Value: 1}, nil)
	dev.Transfer(ctx, sim.SerialOutEndpoint, []byte("hello"))
	buf := make([]byte, 64)
	n, _ := dev.Transfer(ctx, sim.SerialInEndpoint, buf)
	fmt.Printf("serial %s echoed %q\n", dev.Info().Serial, buf[:n])
	// Output: serial ACM-1 echoed "hello"
}

// Serving a connection the embedder has already accepted and
// authenticated: the principal, carried in the context, reaches the
// authorisation hook, which filters the device list and decides imports.
func ExampleServer_ServeConn() {
	srv := usbip.NewServer(&usbip.ServerOptions{
		Authorize: func(_ context.Context, r usbip.AuthRequest) error {
			if r.Principal == "lab-admin" || r.Device.Serial == "PUBLIC" {
				return nil
			}
			return errors.New("not permitted")
		},
	})
	defer srv.Close()
	srv.Add("1-1", sim.NewKeyboard("PUBLIC"))
	srv.Add("1-2", sim.NewStorage("LAB-DISK", 1<<20))

	for _, who := range []string{"guest", "lab-admin"} {
		client, server := net.Pipe()
		go srv.ServeConn(usbip.WithPrincipal(context.Background(), who), server, nil)
		devs, _ := usbip.List(context.Background(), client)
		client.Close()
		fmt.Printf("%s sees %d device(s)\n", who, len(devs))
	}
	client, server := net.Pipe()
	go srv.ServeConn(usbip.WithPrincipal(context.Background(), "guest"), server, nil)
	_, err := usbip.Import(context.Background(), client, "1-2", nil)
	fmt.Println(errors.Is(err, usbip.ErrDenied), err)
	// Output:
	// guest sees 1 device(s)
	// lab-admin sees 2 device(s)
	// true usbip: import 1-2: Request Failed
}

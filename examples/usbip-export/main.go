// Command usbip-export exports simulated USB devices over USB/IP, so the
// stock Linux client and Gonaut's userspace client can import them:
//
//	go run ./examples/usbip-export -listen 127.0.0.1:3240 -sim hid,cdcacm,storage -deny 1-2
//	usbip --tcp-port 3240 list -r 127.0.0.1
//	usbip --tcp-port 3240 attach -r 127.0.0.1 -b 1-1   # needs vhci-hcd
//	go run ./examples/usbip-client -server 127.0.0.1:3240
//
// It prints one line per exported device, "busid vid:pid name", then
// serves until interrupted. -deny refuses one bus id's import through the
// server's authorisation hook; the Linux tool reports "Request Failed".
// The keyboard types a line every two seconds while it is imported.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gonaut/gonaut/internal/cli"
	"github.com/gonaut/gonaut/usbip"
	"github.com/gonaut/gonaut/usbip/sim"
)

func main() {
	cli.Describe("usbip-export", "[-listen ADDR] [-sim hid,cdcacm,storage] [-deny BUSID] [-v]",
		"Exports simulated USB devices over USB/IP, behind an authorisation hook.")
	listen := flag.String("listen", "127.0.0.1:3240", "TCP address to serve USB/IP on")
	simList := flag.String("sim", "hid,cdcacm,storage", "simulated devices to export: hid, cdcacm, storage (comma-separated)")
	deny := flag.String("deny", "", "bus id whose import is refused (shows authorisation)")
	verbose := flag.Bool("v", false, "log connections and imports to stderr")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *listen, *simList, *deny, *verbose); err != nil {
		cli.Fail("usbip-export", err)
	}
}

func run(ctx context.Context, listen, simList, deny string, verbose bool) error {
	logger := slog.New(slog.DiscardHandler)
	if verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	srv := usbip.NewServer(&usbip.ServerOptions{
		Logger: logger,
		Authorize: func(_ context.Context, r usbip.AuthRequest) error {
			if r.Op == usbip.OpImport && r.BusID == deny {
				return errors.New("denied by -deny")
			}
			return nil
		},
	})
	defer srv.Close()

	var kbd *sim.Keyboard
	for _, name := range strings.Split(simList, ",") {
		var dev usbip.Device
		switch strings.TrimSpace(name) {
		case "hid":
			kbd = sim.NewKeyboard("GONAUT-KBD")
			dev = kbd
		case "cdcacm":
			dev = sim.NewSerial("GONAUT-ACM")
		case "storage":
			dev = sim.NewStorage("GONAUT-MSC", 64<<20)
		case "":
			continue
		default:
			return fmt.Errorf("unknown simulated device %q (want hid, cdcacm, storage)", name)
		}
		id, err := srv.Add("", dev)
		if err != nil {
			return err
		}
		info := dev.Info()
		fmt.Printf("%s %04x:%04x %s\n", id, info.Vendor, info.Product, name)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Printf("serving USB/IP on %s\n", ln.Addr())
	if kbd != nil {
		go typeLines(ctx, kbd)
	}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	return srv.Serve(ln)
}

// typeLines keeps the keyboard busy so an importer has reports to read.
func typeLines(ctx context.Context, kbd *sim.Keyboard) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			tctx, cancel := context.WithTimeout(ctx, time.Second)
			kbd.Type(tctx, "hello from gonaut\n")
			cancel()
		}
	}
}

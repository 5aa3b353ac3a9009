// Command serial-share shares one serial port over TCP, in raw mode or with
// RFC 2217, using serialfwd.Server.
//
//	serial-share -port /dev/ttyUSB0 -listen 127.0.0.1:2217 -mode rfc2217
//
// Then, for example: python3 -m serial.tools.miniterm rfc2217://127.0.0.1:2217
// or: serial-attach -remote 127.0.0.1:2217
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/gonaut/gonaut/internal/cli"
	"github.com/gonaut/gonaut/serialfwd"
)

func main() {
	cli.Describe("serial-share", "-port PATH [-listen ADDR] [-mode raw|rfc2217] [flags]",
		"Shares one serial port over TCP, in raw mode or with RFC 2217.")
	port := flag.String("port", "", "serial device to share, e.g. /dev/ttyUSB0 (required)")
	listen := flag.String("listen", "127.0.0.1:2217", "TCP address to listen on")
	modeFlag := flag.String("mode", "rfc2217", "protocol: raw or rfc2217")
	baud := flag.Int("baud", 115200, "baud rate the port opens with")
	lines := flag.String("modem-lines", "auto", "how DTR/RTS/flow-control requests are answered: auto (virtual on a pty), real, virtual or refuse")
	access := flag.String("access", "exclusive", "exclusive, kick (newest client wins) or shared (one writer, read-only watchers)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, *port, *listen, *modeFlag, *baud, *access, *lines); err != nil {
		cli.Fail("serial-share", err)
	}
}

// run shares path on addr until ctx ends; it prints the address to out.
func run(ctx context.Context, out io.Writer, path, addr, modeName string, baud int, accessName, linesName string) error {
	if path == "" {
		return errors.New("-port is required")
	}
	// Say now that the port is missing, not at the first connection.
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no serial port at %s: %w", path, err)
	}
	proto, err := serialfwd.ParseProtocol(modeName)
	if err != nil {
		return err
	}
	access := map[string]serialfwd.Access{
		"exclusive": serialfwd.AccessExclusive,
		"kick":      serialfwd.AccessExclusiveKick,
		"shared":    serialfwd.AccessShared,
	}
	acc, ok := access[accessName]
	if !ok {
		return fmt.Errorf("unknown -access %q", accessName)
	}
	lines, err := serialfwd.ParseModemLines(linesName)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	srv := serialfwd.NewServer(&serialfwd.ServerOptions{Logger: log})
	defer srv.Close()
	err = srv.AddPort(serialfwd.PortConfig{
		Name:       path,
		Open:       serialfwd.SerialOpener(path, serialfwd.Mode{BaudRate: baud}),
		Access:     acc,
		ModemLines: lines,
	})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "sharing %s on %s (%v, %v)\n", path, l.Addr(), proto, acc)

	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(l, path, proto); err != nil && !errors.Is(err, serialfwd.ErrClosed) {
		return err
	}
	return nil
}

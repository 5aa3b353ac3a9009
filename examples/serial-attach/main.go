// Command serial-attach makes a local virtual serial port (a pty) for a
// remote RFC 2217 port and prints its path; programs such as minicom or
// picocom open it like a local device until serial-attach is stopped.
//
//	serial-attach -remote 127.0.0.1:2217 -link /tmp/ttyREMOTE
//	picocom -b 9600 /tmp/ttyREMOTE
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gonaut/gonaut/internal/cli"
	"github.com/gonaut/gonaut/serialfwd"
)

func main() {
	cli.Describe("serial-attach", "-remote HOST:PORT [-link PATH] [-v]",
		"Makes a local pty for a remote RFC 2217 serial port and prints its path; programs\nsuch as minicom or picocom open it like a local device until stopped.")
	remote := flag.String("remote", "", "address of the RFC 2217 server, host:port (required)")
	link := flag.String("link", "", "optional stable symlink to create for the pty")
	verbose := flag.Bool("v", false, "log line-setting changes")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, *remote, *link, *verbose); err != nil {
		cli.Fail("serial-attach", err)
	}
}

// run bridges a local pty to remote until ctx ends; it prints the pty's
// path (and the link) to out.
func run(ctx context.Context, out io.Writer, remote, link string, verbose bool) error {
	if remote == "" {
		return errors.New("-remote is required")
	}
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	c, err := serialfwd.Dial(dctx, remote, &serialfwd.ClientOptions{Logger: log})
	cancel()
	if err != nil {
		return err
	}
	b, err := serialfwd.NewBridge(ctx, c, &serialfwd.BridgeOptions{Link: link, Logger: log})
	if err != nil {
		c.Close()
		return err
	}
	defer b.Close()
	if link != "" {
		fmt.Fprintf(out, "%s -> %s\n", link, b.Path())
	} else {
		fmt.Fprintln(out, b.Path())
	}
	select {
	case <-ctx.Done():
		return nil
	case <-b.Done():
		return b.Err()
	}
}

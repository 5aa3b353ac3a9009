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
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gonaut/gonaut/serialfwd"
)

func main() {
	remote := flag.String("remote", "", "address of the RFC 2217 server, host:port (required)")
	link := flag.String("link", "", "optional stable symlink to create for the pty")
	verbose := flag.Bool("v", false, "log line-setting changes")
	flag.Parse()
	if err := run(*remote, *link, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "serial-attach:", err)
		os.Exit(1)
	}
}

func run(remote, link string, verbose bool) error {
	if remote == "" {
		return errors.New("-remote is required")
	}
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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
		fmt.Printf("%s -> %s\n", link, b.Path())
	} else {
		fmt.Println(b.Path())
	}
	select {
	case <-ctx.Done():
		return nil
	case <-b.Done():
		return b.Err()
	}
}

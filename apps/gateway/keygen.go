package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gonaut/gonaut/tunnel"
)

func init() {
	register(command{name: "keygen", summary: "generate a WireGuard private key (public key on stderr)", run: runKeygen})
	register(command{name: "version", summary: "print the gateway's version", run: runVersion})
}

func runKeygen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "write the private key to `FILE` (mode 0600) instead of stdout")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{2}
	}
	if fs.NArg() > 0 {
		return usageError{"keygen takes no arguments"}
	}
	k, err := tunnel.GeneratePrivateKey()
	if err != nil {
		return err
	}
	if *out != "" {
		if err := os.WriteFile(*out, []byte(k.String()+"\n"), 0o600); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(stdout, k)
	}
	fmt.Fprintf(stderr, "public key: %s\n", k.PublicKey())
	return nil
}

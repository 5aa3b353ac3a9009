package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gonaut/gonaut/ztna"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// consoleFlags are the flags that connect a gateway to a console.
type consoleFlags struct {
	url, tokenFile, stateDir, name *string
}

func addConsoleFlags(fs *flag.FlagSet) *consoleFlags {
	return &consoleFlags{
		url:       fs.String("console", "", "console `URL` (e.g. http://127.0.0.1:8080): take devices, users and policies from it and send it events and status"),
		tokenFile: fs.String("token-file", "", "`FILE` holding the console's one-time registration token (read only when not registered yet)"),
		stateDir:  fs.String("state-dir", "", "`DIR` keeping the gateway's console credential and event spool across restarts"),
		name:      fs.String("name", "", "gateway name shown in the console (default: the host name)"),
	}
}

// consoleLink is a gateway's connection to its console: the registered
// client and the first bundle, which the gateway is given through
// Options.Console and follows the console with on its own.
type consoleLink struct {
	cp    *controlplane.Client
	log   *slog.Logger
	first *controlplane.Bundle

	once sync.Once
}

// open registers with the console (unless a credential is stored in the
// state dir) and pulls the first bundle. It returns nil, nil when no
// console was asked for.
func (f *consoleFlags) open(ctx context.Context, log *slog.Logger, defaultState string) (*consoleLink, error) {
	if *f.url == "" {
		if *f.tokenFile != "" {
			return nil, usageError{"--token-file needs --console URL"}
		}
		return nil, nil
	}
	state := *f.stateDir
	if state == "" {
		state = defaultState
	}
	cp, err := controlplane.New(*f.url, &controlplane.Options{StateDir: state, Logger: log})
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			cp.Close()
		}
	}()
	if cp.Credential().GatewayID == "" {
		if *f.tokenFile == "" {
			return nil, usageError{"not registered with the console yet: give --token-file FILE"}
		}
		tok, err := os.ReadFile(*f.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("console token: %w", err)
		}
		name := *f.name
		if name == "" {
			name, _ = os.Hostname()
		}
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		cred, err := cp.Register(rctx, strings.TrimSpace(string(tok)), name)
		if err != nil {
			return nil, fmt.Errorf("console registration: %w", err)
		}
		log.Info("registered with the console", "gateway_id", cred.GatewayID, "state_dir", state)
	}
	bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	first, err := cp.Bundle(bctx, 0, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("console bundle: %w", err)
	}
	ok = true
	return &consoleLink{cp: cp, log: log, first: first}, nil
}

// options makes the gateway managed by the console: New applies the first
// bundle, and the gateway follows the console (new bundles, status after
// each and every 10 s) and sends it its events until it closes.
func (l *consoleLink) options(o *ztna.Options) {
	o.Console = &ztna.ConsoleOptions{Client: l.cp, First: l.first, Version: version}
}

// close tries for 2 s to deliver the spooled events and closes the
// client; safe twice. Call it after the gateway closed, so that its last
// events are among them.
func (l *consoleLink) close() {
	l.once.Do(func() {
		fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := l.cp.Flush(fctx); err != nil {
			l.log.Warn("console events left in the spool", "err", err)
		}
		cancel()
		l.cp.Close()
	})
}

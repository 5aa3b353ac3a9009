// Command console is Gonaut's web console and control plane: one binary
// serving the pages, the REST API, live updates and the gateways' control
// plane over an embedded SQLite store (default) or PostgreSQL.
//
//	console serve [-listen 127.0.0.1:8080] [-db console.db | -db postgres://...] [-tls-cert F -tls-key F | -behind-tls-proxy]
//	console demo  [-listen 127.0.0.1:8080] [-db DIR/console.db] [-token-file F] [-device-key-file F]
//	console audit verify [-db ...]
//	console user add -email E -role admin [-db ...]   (prints a password)
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/server"
	"github.com/gonaut/gonaut/apps/console/internal/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage:
  console serve [-listen ADDR] [-db PATH|postgres://...] [-tls-cert FILE -tls-key FILE] [-behind-tls-proxy]
  console demo [-listen ADDR] [-db PATH] [-token-file FILE] [-device-key-file FILE]
  console audit verify [-db PATH|postgres://...]
  console user add -email EMAIL [-name NAME] [-role ROLE] [-db ...]
`

// run is main without the process, for tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr, false)
	case "demo":
		err = cmdServe(ctx, args[1:], stdout, stderr, true)
	case "audit":
		if len(args) < 2 || args[1] != "verify" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		err = cmdVerify(ctx, args[2:], stdout, stderr)
	case "user":
		if len(args) < 2 || args[1] != "add" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		err = cmdUserAdd(ctx, args[2:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "console: unknown command %q\n%s", args[0], usage)
		return 2
	}
	var ee exitCode
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return int(ee)
	case errors.Is(err, flag.ErrHelp):
		return 0
	default:
		fmt.Fprintf(stderr, "console %s: %v\n", args[0], err)
		return 1
	}
}

type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func openStore(ctx context.Context, dsn string) (*store.DB, error) {
	if dsn == "" {
		dsn = "console.db"
	}
	if env := os.Getenv("GONAUT_CONSOLE_DB"); env != "" && dsn == "console.db" {
		dsn = env
	}
	return store.Open(ctx, dsn)
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, demo bool) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve on")
	dsn := fs.String("db", "", "SQLite file (default console.db; demo: a fresh temporary one) or postgres:// URL")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this PEM certificate (chain) file; needs -tls-key")
	tlsKey := fs.String("tls-key", "", "the PEM private key of -tls-cert")
	behindTLS := fs.Bool("behind-tls-proxy", false, "the console is reached only through an HTTPS proxy in front of it: mark cookies Secure although it speaks HTTP itself")
	fs.BoolVar(behindTLS, "secure-cookies", false, "older name of -behind-tls-proxy")
	tokenFile := fs.String("token-file", "", "demo: write the demo gateway's registration token to this file")
	deviceKeyFile := fs.String("device-key-file", "", "demo: write the private key of the demo device "+demoDeviceName+" to this file (gateway demo --device-key prints its wg-quick config)")
	verbose := fs.Bool("v", false, "log requests' errors to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tlsConfig, err := loadTLS(*tlsCert, *tlsKey)
	if err != nil {
		return err
	}
	if demo && *dsn == "" {
		dir, err := os.MkdirTemp("", "gonaut-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*dsn = dir + "/console.db"
	}
	st, err := openStore(ctx, *dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	srv, err := server.New(st, &server.Options{SecureCookies: tlsConfig != nil || *behindTLS, Logger: logger})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	if tlsConfig != nil {
		url = "https://" + ln.Addr().String()
	}
	if demo {
		login, err := seedDemo(ctx, srv, st, *tokenFile, *deviceKeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("seeding demo data: %w", err)
		}
		fmt.Fprintf(stdout, "Gonaut console (demo data) at %s\n  log in as %s with password %s\n", url, login.email, login.password)
		if login.token != "" {
			fmt.Fprintf(stdout, "  demo gateway registration token: %s\n", login.token)
		}
		if *deviceKeyFile != "" {
			fmt.Fprintf(stdout, "  demo device %s (%s, group team): private key in %s\n", demoDeviceName, demoDeviceOwner, *deviceKeyFile)
		}
	} else {
		fmt.Fprintf(stdout, "Gonaut console at %s (store: %s)\n", url, st.Backend())
	}
	switch {
	case tlsConfig != nil:
		fmt.Fprintf(stdout, "  serving HTTPS with %s; cookies are Secure\n", *tlsCert)
	case *behindTLS:
		fmt.Fprintf(stdout, "  behind a TLS proxy (-behind-tls-proxy): cookies are Secure; the proxy must be the only way in\n")
	default:
		fmt.Fprintf(stderr, "WARNING: the console speaks plain HTTP and its cookies are not Secure: sessions and passwords cross the network in the clear.\n"+
			"  Outside a laptop, serve HTTPS with -tls-cert and -tls-key, or put an HTTPS proxy in front and pass -behind-tls-proxy.\n")
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn), TLSConfig: tlsConfig}
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- hs.ServeTLS(ln, "", "")
			return
		}
		errc <- hs.Serve(ln)
	}()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Close() // ends live streams and long polls so Shutdown can finish
	hs.Shutdown(sctx)
	return nil
}

// loadTLS reads the certificate and key of -tls-cert and -tls-key, or
// answers nil when neither is given.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("-tls-cert and -tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading -tls-cert %s and -tls-key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

func cmdVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("db", "", "SQLite file (default console.db) or postgres:// URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := openStore(ctx, *dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := st.VerifyAudit(ctx)
	if err != nil {
		return err
	}
	if !rep.OK {
		fmt.Fprintf(stdout, "audit log BROKEN at entry %d: %s (%d entries read)\n", rep.BrokenAt, rep.Reason, rep.Entries)
		return exitCode(1)
	}
	fmt.Fprintf(stdout, "audit log intact: %d entries, head %s\n", rep.Entries, rep.Head)
	return nil
}

func cmdUserAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("db", "", "SQLite file (default console.db) or postgres:// URL")
	email := fs.String("email", "", "email (required)")
	name := fs.String("name", "", "display name")
	role := fs.String("role", "admin", "admin, operator, policy_editor, auditor or viewer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *email == "" {
		return errors.New("-email is required")
	}
	st, err := openStore(ctx, *dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	srv, err := server.New(st, nil)
	if err != nil {
		return err
	}
	defer srv.Close()
	pw := server.RandomPassword()
	if _, err := srv.AddUser(ctx, *email, *name, store.Role(*role), nil, pw); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "added %s (%s); password: %s\n", *email, *role, pw)
	return nil
}

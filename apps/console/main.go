// Command console is Gonaut's web console and control plane: one binary
// serving the pages, the REST API, live updates and the gateways' control
// plane over an embedded SQLite store (default) or PostgreSQL.
//
//	console serve [-listen 127.0.0.1:8080] [-db console.db | -db postgres://...] [-secret-key-file F] [-tls-cert F -tls-key F | -behind-tls-proxy]
//	console demo  [-listen 127.0.0.1:8080] [-db DIR/console.db] [-token-file F] [-device-key-file F]
//	console audit verify [-db ...] [-audit-key F | -public-key K] [-checkpoints F]
//	console audit checkpoints [-db ...] [-audit-key F | -public-key K] > F
//	console user add -email E -role admin [-db ...]   (prints a password)
//	console user reset-mfa -email E | -all [-db ...]  (turns TOTP off, ends sessions)
package main

import (
	"bytes"
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

	"github.com/gonaut/gonaut/apps/console/internal/domain"
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
  console serve [-listen ADDR] [-db PATH|postgres://...] [-secret-key-file FILE] [-tls-cert FILE -tls-key FILE] [-behind-tls-proxy] [-audit-key FILE] [-checkpoint-every N] [-policy-draft-limit BYTES]
  console demo [-listen ADDR] [-db PATH] [-token-file FILE] [-device-key-file FILE]
  console audit verify [-db PATH|postgres://...] [-audit-key FILE | -public-key KEY] [-checkpoints FILE]
  console audit checkpoints [-db PATH|postgres://...] [-audit-key FILE | -public-key KEY]
  console user add -email EMAIL [-name NAME] [-role ROLE] [-db ...]
  console user reset-mfa -email EMAIL | -all [-db ...]
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
		switch {
		case len(args) >= 2 && args[1] == "verify":
			err = cmdVerify(ctx, args[2:], stdout, stderr)
		case len(args) >= 2 && args[1] == "checkpoints":
			err = cmdCheckpoints(ctx, args[2:], stdout, stderr)
		default:
			fmt.Fprint(stderr, usage)
			return 2
		}
	case "user":
		switch {
		case len(args) >= 2 && args[1] == "add":
			err = cmdUserAdd(ctx, args[2:], stdout, stderr)
		case len(args) >= 2 && args[1] == "reset-mfa":
			err = cmdUserResetMFA(ctx, args[2:], stdout, stderr)
		default:
			fmt.Fprint(stderr, usage)
			return 2
		}
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

// openOperations opens the store at dsn and the console's operations
// over it, for the commands that act at the console's host (as
// domain.System) without serving; done closes the store.
func openOperations(ctx context.Context, dsn string) (*domain.Service, func(), error) {
	st, err := openStore(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	ops, err := domain.New(st, domain.Options{})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return ops, func() { st.Close() }, nil
}

func openStore(ctx context.Context, dsn string) (*store.DB, error) {
	return store.Open(ctx, storeDSN(dsn))
}

// storeDSN is the database that -db value dsn names.
func storeDSN(dsn string) string {
	if dsn == "" {
		dsn = "console.db"
	}
	if env := os.Getenv("GONAUT_CONSOLE_DB"); env != "" && dsn == "console.db" {
		dsn = env
	}
	return dsn
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
	secretKeyFile := fs.String("secret-key-file", "", "file with the key that seals TOTP secrets, created on first start (default: "+secretKeyFileName+" next to the SQLite database, or in the working directory for PostgreSQL); "+secretKeyEnv+" overrides it")
	verbose := fs.Bool("v", false, "log requests' errors to stderr")
	auditKeyFile := fs.String("audit-key", "", "Ed25519 key that signs audit checkpoints, created (0600) if absent (default: "+auditKeyName+" next to the SQLite file, or in the working directory for PostgreSQL; $"+auditKeyEnv+" wins)")
	every := fs.Int("checkpoint-every", 1000, "sign an audit checkpoint every this many entries (and every minute with new entries)")
	draftLimit := fs.Int64("policy-draft-limit", 1<<20, "largest request body carrying a policy draft (validate, simulate, save), in bytes; larger ones get 413")
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
	if *auditKeyFile == "" {
		*auditKeyFile = defaultAuditKeyPath(storeDSN(*dsn))
	}
	auditKey, created, err := loadAuditKey(*auditKeyFile, true)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(stdout, "created the audit signing key %s: back it up, and keep it away from the database\n", *auditKeyFile)
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
	var keyNote bytes.Buffer
	secretKey, err := loadSecretKey(storeDSN(*dsn), *secretKeyFile, &keyNote)
	if err != nil {
		return err
	}
	srv, err := server.New(st, &server.Options{SecureCookies: tlsConfig != nil || *behindTLS, Logger: logger, SecretKey: secretKey,
		AuditKey: auditKey, CheckpointEvery: *every, PolicyDraftLimit: *draftLimit})
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
	stdout.Write(keyNote.Bytes())
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
	ops, done, err := openOperations(ctx, *dsn)
	if err != nil {
		return err
	}
	defer done()
	pw := domain.RandomPassword()
	if _, err := ops.CreateUser(ctx, domain.System, domain.NewUser{Email: *email, Name: *name, Role: domain.Role(*role), Password: pw}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "added %s (%s); password: %s\n", *email, *role, pw)
	return nil
}

// cmdUserResetMFA turns users' second factor off from the console's
// host: for a user who lost authenticator and recovery codes, and, with
// -all, for a database whose secret key is lost (serve refuses to start
// with another key until no secret sealed with the old one is left).
func cmdUserResetMFA(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user reset-mfa", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("db", "", "SQLite file (default console.db) or postgres:// URL")
	email := fs.String("email", "", "the user whose TOTP to turn off")
	all := fs.Bool("all", false, "turn TOTP off for every user (after losing the secret key)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*email == "") == !*all {
		return errors.New("give exactly one of -email and -all")
	}
	// No secret key: nothing here reads a secret.
	ops, done, err := openOperations(ctx, *dsn)
	if err != nil {
		return err
	}
	defer done()
	if *all {
		n, err := ops.ResetAllMFA(ctx, domain.System)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "turned TOTP off for %d users; they log in with their password and enrol again\n", n)
		return nil
	}
	if err := ops.ResetMFA(ctx, domain.System, *email); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "turned TOTP off for %s; they log in with their password and enrol again\n", *email)
	return nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/gonaut/gonaut/ztna"
)

func init() {
	register(command{
		name:    "run",
		summary: "run the gateway from a config file (SIGHUP reloads, SIGTERM drains)",
		run:     runRun,
	})
}

const runUsage = `usage: gateway run --config FILE [--log-level LEVEL] [--drain-timeout D]
       [--console URL --token-file FILE [--state-dir DIR] [--name NAME]]

Runs the gateway: WireGuard on the configured UDP port, DNS for resource
names and the JWKS inside the tunnel, and /metrics, /healthz and /readyz on
the config's admin address. SIGHUP re-reads the config file and its policies
and applies them atomically (a bad config is logged and the running one
stays); SIGTERM or Ctrl-C stops new flows and waits for live ones up to the
drain timeout.

With --console the gateway is managed by a Gonaut console: it registers once
with the one-time token in --token-file (the credential is kept in
--state-dir, default DIR/console next to the config, so a restart reuses
it), then takes its users, devices and policies from the console's bundles,
applying each atomically (a disabled device is cut at once), and sends its
audit events and a heartbeat to the console. The console's tcp and http
resources are served next to the config's; the config's win on a name
clash, and usb and serial resources come from the config only.
`

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, runUsage) }
	cfgPath := fs.String("config", "", "config `FILE` (YAML)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	drain := fs.Duration("drain-timeout", 10*time.Second, "how long SIGTERM waits for live flows")
	cf := addConsoleFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{2}
	}
	if *cfgPath == "" || fs.NArg() > 0 {
		return usageError{"run takes --config FILE and nothing else"}
	}
	log, err := newLogger(stderr, *level)
	if err != nil {
		return usageError{err.Error()}
	}
	cfg, err := ztna.ReadConfig(*cfgPath)
	if err != nil {
		return err
	}
	link, err := cf.open(ctx, log, filepath.Join(cfg.Dir, "console"))
	if err != nil {
		return err
	}
	return serve(ctx, *cfgPath, cfg, log, *drain, stdout, nil, link)
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad --log-level %q", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// serve runs a gateway until ctx ends, reloading cfgPath on SIGHUP. started,
// when set, is called once the gateway is up.
//
// link, when set, connects the gateway to a console: its directory,
// policies and audit trail are the console's.
func serve(ctx context.Context, cfgPath string, cfg *ztna.Config, log *slog.Logger, drain time.Duration, stdout io.Writer, started func(*ztna.Gateway), link *consoleLink) error {
	if link != nil {
		defer link.close() // after the gateway closed, so its last events are sent
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	defer mp.Shutdown(context.Background())

	opts := &ztna.Options{Logger: log, MeterProvider: mp}
	if link != nil {
		link.options(opts)
	}
	g, err := ztna.New(ctx, cfg, opts)
	if err != nil {
		return err
	}
	defer g.Close()
	if link != nil {
		st := g.ConsoleStatus()
		fmt.Fprintf(stdout, "console:    bundle %d applied: %d devices enrolled\n", st.BundleVersion, st.Peers)
	}

	var admin *http.Server
	adminDone := make(chan struct{})
	if cfg.Admin != "" {
		ln, err := net.Listen("tcp", cfg.Admin)
		if err != nil {
			return fmt.Errorf("admin: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
		mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
			if !g.Ready() {
				http.Error(w, "draining", http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "ready\n")
		})
		mux.Handle("GET "+ztna.JWKSPath, g.JWKSHandler())
		admin = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			defer close(adminDone)
			admin.Serve(ln)
		}()
		fmt.Fprintf(stdout, "admin:      http://%s/metrics /healthz /readyz\n", ln.Addr())
	} else {
		close(adminDone)
	}
	fmt.Fprintf(stdout, "gateway:    WireGuard on UDP port %d, public key %s\n", g.ListenPort(), g.PublicKey())
	fmt.Fprintf(stdout, "tunnel:     address %s (DNS for resource names)\n", g.Address())
	for _, r := range g.Resources() {
		fmt.Fprintf(stdout, "resource:   %-20s %-4s %s:%d\n", r.Name, r.Kind, r.Address, r.Port)
	}
	log.Info("gateway up", "port", g.ListenPort(), "public_key", g.PublicKey().String(), "resources", len(g.Resources()))
	if started != nil {
		started(g)
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			if err := reload(ctx, g, cfgPath); err != nil {
				log.Error("reload rejected; the running config stays", "err", err)
				fmt.Fprintf(stdout, "reload rejected: %v\n", err)
			} else {
				log.Info("reloaded", "config", cfgPath)
				fmt.Fprintf(stdout, "reloaded %s\n", cfgPath)
			}
		case <-ctx.Done():
			log.Info("draining", "flows", g.ActiveFlows(), "timeout", drain)
			dctx, cancel := context.WithTimeout(context.Background(), drain)
			g.Drain(dctx)
			cancel()
			if admin != nil {
				admin.Close()
			}
			<-adminDone
			fmt.Fprintln(stdout, "gateway stopped")
			return g.Close()
		}
	}
}

func reload(ctx context.Context, g *ztna.Gateway, path string) error {
	if path == "" {
		return errors.New("no config file to reload")
	}
	cfg, err := ztna.ReadConfig(path)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return g.Reload(rctx, cfg)
}

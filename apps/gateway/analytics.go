package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gonaut/gonaut/analytics"
	"github.com/gonaut/gonaut/analytics/scenario"
)

func init() {
	register(command{
		name:    "analytics",
		summary: "replay access events through behavioural analytics; generate labelled test traffic",
		run:     runAnalytics,
	})
}

const analyticsUsage = `usage:
  gateway analytics replay --events FILE.jsonl [--snapshot FILE] [options]
  gateway analytics generate [--seed N] [--users N] [--days N] [--attacks N] [--attack-free] [--labels FILE]

replay feeds access events (one JSON object per line: time, subject, device,
source_ip, country, asn, lat, lon, resource, kind, effect, rule, bytes_in,
bytes_out, duration_ms; "-" reads standard input) through the analytics
engine. Alerts go to standard output as JSON lines (time, subject, detector,
severity, score, reason, evidence); the summary table goes to standard error,
so that standard output stays machine-readable. With --snapshot, the engine
starts from FILE if it exists (a bad snapshot is an error and is left
untouched) and saves its baselines back to FILE at the end.

generate writes a synthetic, labelled event stream (users with diurnal
habits plus injected attacks of every detector's kind) to standard output;
--labels writes the injected incidents as JSON lines.
`

func runAnalytics(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, analyticsUsage)
		if len(args) == 0 {
			return usageError{"missing subcommand (replay or generate)"}
		}
		return nil
	}
	switch args[0] {
	case "replay":
		return analyticsReplay(ctx, args[1:], stdout, stderr)
	case "generate":
		return analyticsGenerate(ctx, args[1:], stdout, stderr)
	}
	return usageError{fmt.Sprintf("unknown subcommand %q (want replay or generate)", args[0])}
}

func analyticsFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("analytics "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, analyticsUsage, "\noptions:\n"); fs.PrintDefaults() }
	return fs
}

func analyticsParse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitError{0}
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func analyticsReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := analyticsFlags("replay", stderr)
	events := fs.String("events", "", "JSON-lines event file, or - for standard input (required)")
	snapPath := fs.String("snapshot", "", "restore baselines from this file if it exists, and save them to it at the end")
	corporate := fs.String("corporate", "", "comma-separated CIDR prefixes of corporate egress (VPN, proxies)")
	geoCity := fs.String("geoip-city", "", "MaxMind City or Country database to fill in country and location")
	geoASN := fs.String("geoip-asn", "", "MaxMind ASN database to fill in the autonomous system")
	learnEvents := fs.Int("learn-events", 0, "allowed decisions a subject needs before baseline detectors fire (default 50)")
	learnPeriod := fs.Duration("learn-period", 0, "history a subject needs before baseline detectors fire (default 168h)")
	strict := fs.Bool("strict", false, "exit with status 1 if any event was rejected")
	if err := analyticsParse(fs, args); err != nil {
		return err
	}
	if *events == "" {
		return usageError{"--events is required"}
	}
	opts := &analytics.Options{Learning: analytics.Learning{Events: *learnEvents, Period: *learnPeriod}}
	if *corporate != "" {
		for _, s := range strings.Split(*corporate, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(s))
			if err != nil {
				return usageError{fmt.Sprintf("--corporate: %v", err)}
			}
			opts.CorporateEgress = append(opts.CorporateEgress, p.Masked())
		}
	}
	if *geoCity != "" || *geoASN != "" {
		g, err := analytics.OpenMaxMind(*geoCity, *geoASN)
		if err != nil {
			return err
		}
		defer g.Close()
		opts.GeoIP = g
	}
	eng, err := analytics.New(opts)
	if err != nil {
		return err
	}
	defer eng.Close()

	restored := false
	if *snapPath != "" {
		f, err := os.Open(*snapPath)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return err
		default:
			err = eng.Restore(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("restore %s: %w (the file is left as it is)", *snapPath, err)
			}
			restored = true
		}
	}

	var in io.Reader = os.Stdin
	if *events != "-" {
		f, err := os.Open(*events)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}

	var (
		st      replayStats
		enc     = json.NewEncoder(stdout)
		dec     = analytics.NewDecoder(in)
		lastEv  time.Time
		started = time.Now()
	)
	st.alerts = map[analytics.Detector]int{}
	for {
		if st.read%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		var ev analytics.Event
		err := dec.Decode(&ev)
		if err == io.EOF {
			break
		}
		st.read++
		var de *analytics.DecodeError
		if errors.As(err, &de) {
			st.invalid++
			st.complain(stderr, err)
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", *events, err)
		}
		alerts, err := eng.Observe(ev)
		switch {
		case errors.Is(err, analytics.ErrOutOfOrder):
			st.outOfOrder++
			st.complain(stderr, fmt.Errorf("event %d (%s, %s): %w", st.read, ev.Subject, ev.Time.Format(time.RFC3339), err))
			continue
		case errors.Is(err, analytics.ErrDuplicate):
			st.duplicate++
			continue
		case err != nil:
			st.invalid++
			st.complain(stderr, fmt.Errorf("event %d: %w", st.read, err))
			continue
		}
		st.applied++
		if ev.Time.After(lastEv) {
			lastEv = ev.Time
		}
		for _, a := range alerts {
			st.alerts[a.Detector]++
			if err := enc.Encode(a); err != nil {
				return err
			}
		}
	}
	elapsed := time.Since(started)

	if *snapPath != "" {
		if err := analyticsSave(eng, *snapPath); err != nil {
			return err
		}
	}
	st.print(stderr, eng, restored, *snapPath, lastEv, elapsed)
	if *strict && st.read != st.applied {
		return exitError{1}
	}
	return nil
}

type replayStats struct {
	read, applied, invalid, outOfOrder, duplicate, complaints int
	alerts                                                    map[analytics.Detector]int
}

const maxComplaints = 20

func (st *replayStats) complain(w io.Writer, err error) {
	st.complaints++
	if st.complaints <= maxComplaints {
		fmt.Fprintf(w, "gateway analytics: %v\n", err)
	} else if st.complaints == maxComplaints+1 {
		fmt.Fprintf(w, "gateway analytics: further rejected events are only counted\n")
	}
}

func (st *replayStats) print(w io.Writer, eng *analytics.Engine, restored bool, snap string, last time.Time, elapsed time.Duration) {
	stats := eng.Stats()
	total := 0
	for _, n := range st.alerts {
		total += n
	}
	row := func(label string, n int) { fmt.Fprintf(w, "%-22s %10d\n", label, n) }
	row("events read", st.read)
	row("  applied", st.applied)
	row("  invalid", st.invalid)
	row("  out of order", st.outOfOrder)
	row("  duplicate", st.duplicate)
	row("subjects tracked", stats.Subjects)
	row("devices tracked", stats.Devices)
	row("alerts", total)
	for _, d := range analytics.Detectors() {
		if n := st.alerts[d]; n > 0 {
			row("  "+d.String(), n)
		}
	}
	if elapsed > 0 && st.read > 0 {
		fmt.Fprintf(w, "replayed %d events in %s (%.0f events/s)\n", st.read, elapsed.Round(time.Millisecond), float64(st.read)/elapsed.Seconds())
	}
	if restored {
		fmt.Fprintf(w, "baselines restored from %s\n", snap)
	}
	if snap != "" {
		fmt.Fprintf(w, "baselines saved to %s\n", snap)
	}
	if !last.IsZero() {
		fmt.Fprintf(w, "latest event %s\n", last.UTC().Format(time.RFC3339))
	}
}

// analyticsSave writes the snapshot next to path and renames it into place,
// so that a crash mid-write never leaves a truncated snapshot behind.
func analyticsSave(eng *analytics.Engine, path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := eng.Snapshot(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func analyticsGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := analyticsFlags("generate", stderr)
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same stream")
	users := fs.Int("users", 300, "number of users")
	days := fs.Int("days", 56, "days of traffic (at least 50)")
	attacks := fs.Int("attacks", 20, "incidents to inject per detector")
	free := fs.Bool("attack-free", false, "inject no attacks")
	labels := fs.String("labels", "", "write the injected incidents to this file as JSON lines")
	if err := analyticsParse(fs, args); err != nil {
		return err
	}
	if *users <= 0 || *days <= 0 || *attacks < 0 {
		return usageError{"--users, --days and --attacks must be positive"}
	}
	sc := scenario.Generate(scenario.Config{Seed: *seed, Users: *users, Days: *days, AttacksPerKind: *attacks, AttackFree: *free || *attacks == 0})
	enc := json.NewEncoder(stdout)
	for i, ev := range sc.Events {
		if i%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if err := enc.Encode(ev); err != nil {
			return err
		}
	}
	if *labels != "" {
		f, err := os.Create(*labels)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(f)
		for _, in := range sc.Incidents {
			rec := struct {
				Kind    analytics.Detector   `json:"kind"`
				Expect  []analytics.Detector `json:"expect"`
				Subject string               `json:"subject,omitempty"`
				Source  netip.Addr           `json:"source_ip,omitzero"`
				Start   time.Time            `json:"start"`
				End     time.Time            `json:"end"`
				Variant string               `json:"variant,omitempty"`
			}{in.Kind, in.Expect, in.Subject, in.Source, in.Start, in.End, in.Variant}
			if err := enc.Encode(rec); err != nil {
				f.Close()
				return err
			}
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "generated %d events, %d incidents; corporate egress %v (pass it to replay with --corporate)\n",
		len(sc.Events), len(sc.Incidents), sc.CorporateEgress)
	return nil
}

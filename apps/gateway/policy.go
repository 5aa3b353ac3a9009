package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/gonaut/gonaut/policy"
)

func init() {
	register(command{
		name:    "policy",
		summary: "check, evaluate and simulate policies; list templates",
		run:     runPolicy,
	})
}

const policyUsage = `usage:
  gateway policy check FILE...
  gateway policy eval --policy FILE [--policy FILE...] (--request REQ.json | --requests FILE.jsonl)
  gateway policy simulate --from FILE... --to FILE... --requests FILE.jsonl [--json]
  gateway policy templates
  gateway policy template NAME
`

func runPolicy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, policyUsage)
		if len(args) == 0 {
			return exitError{2}
		}
		return nil
	}
	switch args[0] {
	case "check":
		return policyCheck(ctx, args[1:], stdout, stderr)
	case "eval":
		return policyEval(ctx, args[1:], stdout, stderr)
	case "simulate":
		return policySimulate(ctx, args[1:], stdout, stderr)
	case "templates":
		for _, t := range policy.Templates() {
			fmt.Fprintf(stdout, "%-16s %s\n", t.Name, firstSentence(t.Description))
		}
		return nil
	case "template":
		if len(args) != 2 {
			return usageError{"template takes one NAME; see 'gateway policy templates'"}
		}
		t, ok := policy.TemplateByName(args[1])
		if !ok {
			return fmt.Errorf("no template named %q; see 'gateway policy templates'", args[1])
		}
		_, err := stdout.Write(t.Source)
		return err
	}
	return usageError{fmt.Sprintf("unknown policy subcommand %q", args[0])}
}

func firstSentence(s string) string {
	if i := strings.Index(s, ": "); i > 0 && i < 80 {
		return s[:i]
	}
	if i := strings.Index(s, ". "); i > 0 {
		return s[:i+1]
	}
	return s
}

// multiFlag collects a repeatable flag; trailing positional words after it
// are accepted too (--policy a.yaml b.yaml), which is what shells expand
// globs into.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// parseFlags parses fs, first handing bare words that follow a repeatable
// flag's value to that flag, so that "--from a.yaml b.yaml --to c.yaml"
// (what a shell makes of --from *.yaml) means what it says.
func parseFlags(fs *flag.FlagSet, args []string, multis map[string]*multiFlag) error {
	var expanded []string
	cur := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") && a != "-" {
			expanded = append(expanded, a)
			name := strings.TrimLeft(a, "-")
			cur = ""
			if eq := strings.IndexByte(name, '='); eq >= 0 {
				if _, ok := multis[name[:eq]]; ok {
					cur = name[:eq]
				}
				continue
			}
			if _, ok := multis[name]; ok && i+1 < len(args) {
				expanded = append(expanded, args[i+1])
				i++
				cur = name
			}
			continue
		}
		if cur != "" {
			expanded = append(expanded, "--"+cur, a)
			continue
		}
		expanded = append(expanded, a)
	}
	if err := fs.Parse(expanded); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func policyCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"check needs at least one policy FILE"}
	}
	set, err := policy.LoadFiles(&policy.CompileOptions{SkipTests: true}, args...)
	if err != nil {
		return printDiagnostics(err, stderr)
	}
	results := set.Tests(ctx)
	failed := 0
	for _, r := range results {
		if !r.Passed {
			failed++
			fmt.Fprintf(stderr, "%s:%d: %s\n", r.Document, r.Line, r.Failure())
		}
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "%d of %d tests failed\n", failed, len(results))
		return exitError{1}
	}
	fmt.Fprintf(stdout, "ok: %s, %s passed, version %s\n", count(set.Len(), "rule"), count(len(results), "test"), set.Version())
	return nil
}

// printDiagnostics writes file:line:col diagnostics and asks for exit 1.
func printDiagnostics(err error, stderr io.Writer) error {
	var ds *policy.Diagnostics
	if errors.As(err, &ds) {
		for _, d := range ds.List {
			fmt.Fprintln(stderr, d.String())
		}
		return exitError{1}
	}
	return err
}

func policyEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("policy eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files multiFlag
	fs.Var(&files, "policy", "policy `FILE` (repeatable)")
	reqFile := fs.String("request", "", "one request as JSON (`FILE`, - for stdin)")
	reqsFile := fs.String("requests", "", "requests as JSON lines (`FILE`, - for stdin)")
	explain := fs.Bool("explain", false, "add a human-readable explanation to each decision")
	if err := parseFlags(fs, args, map[string]*multiFlag{"policy": &files}); err != nil {
		return flagErr(err)
	}
	if len(files) == 0 {
		return usageError{"eval needs --policy FILE"}
	}
	if (*reqFile == "") == (*reqsFile == "") {
		return usageError{"eval needs exactly one of --request FILE or --requests FILE.jsonl"}
	}
	set, err := policy.LoadFiles(nil, files...)
	if err != nil {
		return printDiagnostics(err, stderr)
	}
	enc := json.NewEncoder(stdout)
	emit := func(d policy.Decision) error {
		out := decisionJSON{Effect: d.Effect, Rule: d.Rule, Matches: d.Matches(), Obligations: d.Obligations, Version: d.Version}
		if *explain {
			out.Explanation = d.Explain()
		}
		for _, e := range d.Errors {
			out.Errors = append(out.Errors, e.Error())
		}
		return enc.Encode(out)
	}
	if *reqFile != "" {
		data, err := readInput(*reqFile)
		if err != nil {
			return err
		}
		r, err := policy.ParseRequest(data)
		if err != nil {
			return err
		}
		return emit(set.Decide(ctx, r))
	}
	bad := 0
	err = eachLine(*reqsFile, func(n int, line []byte) error {
		r, err := policy.ParseRequest(line)
		if err != nil {
			bad++
			fmt.Fprintf(stderr, "%s:%d: %v\n", *reqsFile, n, err)
			return enc.Encode(map[string]any{"line": n, "error": err.Error()})
		}
		return emit(set.Decide(ctx, r))
	})
	if err != nil {
		return err
	}
	if bad > 0 {
		return exitError{1}
	}
	return nil
}

// decisionJSON is a decision as the CLI prints it: the decision's own JSON
// fields plus an optional explanation and the evaluation errors as text.
type decisionJSON struct {
	Effect      policy.Effect      `json:"effect"`
	Rule        string             `json:"rule"`
	Matches     []policy.Match     `json:"matches,omitempty"`
	Obligations policy.Obligations `json:"obligations,omitzero"`
	Version     string             `json:"version"`
	Explanation string             `json:"explanation,omitempty"`
	Errors      []string           `json:"errors,omitempty"`
}

func flagErr(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	var ue usageError
	if errors.As(err, &ue) {
		return ue
	}
	return exitError{2}
}

func readInput(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(os.Stdin, 1<<20+1))
	}
	return os.ReadFile(name)
}

// eachLine calls fn for each non-blank line of a JSON-lines file.
func eachLine(name string, fn func(n int, line []byte) error) error {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20+1)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: line %d: %w", name, n+1, err)
	}
	return nil
}

func policySimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("policy simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var from, to multiFlag
	fs.Var(&from, "from", "current policy `FILE` (repeatable)")
	fs.Var(&to, "to", "candidate policy `FILE` (repeatable)")
	reqsFile := fs.String("requests", "", "past requests as JSON lines (`FILE`)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parseFlags(fs, args, map[string]*multiFlag{"from": &from, "to": &to}); err != nil {
		return flagErr(err)
	}
	if len(from) == 0 || len(to) == 0 || *reqsFile == "" {
		return usageError{"simulate needs --from FILE, --to FILE and --requests FILE.jsonl"}
	}
	before, err := policy.LoadFiles(nil, from...)
	if err != nil {
		return printDiagnostics(err, stderr)
	}
	after, err := policy.LoadFiles(nil, to...)
	if err != nil {
		return printDiagnostics(err, stderr)
	}
	var reqs []policy.Request
	err = eachLine(*reqsFile, func(n int, line []byte) error {
		r, err := policy.ParseRequest(line)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", *reqsFile, n, err)
		}
		reqs = append(reqs, *r)
		return nil
	})
	if err != nil {
		return err
	}
	rep, err := policy.Simulate(ctx, before, after, reqs)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(stdout, "%d requests, %d would change: %d now allowed, %d now denied, %d decided by another rule\n",
		rep.Total, rep.Changed, rep.NowAllowed, rep.NowDenied, rep.RuleOnly)
	if rep.Changed == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tSUBJECT\tRESOURCE\tBEFORE\tAFTER")
	for _, c := range rep.Changes {
		fmt.Fprintf(tw, "%d\t%s\t%s/%s\t%s\t%s\n", c.Index+1, c.Request.Subject.ID, c.Request.Resource.Kind, c.Request.Resource.Name,
			effectRule(c.Before), effectRule(c.After))
	}
	return tw.Flush()
}

func effectRule(d policy.Decision) string {
	if d.Rule == "" {
		return d.Effect.String() + " (default)"
	}
	return d.Effect.String() + " (" + d.Rule + ")"
}

// count says "1 rule" or "2 rules".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

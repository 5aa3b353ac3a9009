package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	"cel.dev/cel-go/interpreter"
	"go.yaml.in/yaml/v3"
)

// CompileOptions tune Compile. A nil *CompileOptions means the defaults;
// Compile never modifies the options it is given.
type CompileOptions struct {
	// MaxCost is the largest static cost estimate a condition may have,
	// assuming request lists and maps of up to 256 entries and strings of
	// up to 4 KiB. Conditions over it are rejected at compile time; at run
	// time a condition that exceeds it fails (and so never allows).
	// Default DefaultMaxCost. Raising it lets conditions loop more per
	// decision.
	MaxCost uint64
	// SkipTests builds the set without running the documents' tests. Use
	// it only for tooling that runs them itself (see Set.RunTests); a set
	// whose tests fail is otherwise never built.
	SkipTests bool
}

func (o *CompileOptions) maxCost() uint64 {
	if o == nil || o.MaxCost == 0 {
		return DefaultMaxCost
	}
	return o.MaxCost
}

// Compile builds an immutable policy Set from documents: it checks every
// condition against the request schema, bounds its cost, indexes the rules
// by resource, and runs the documents' tests against the whole set.
//
// Problems are returned as *Diagnostics: wrapping ErrInvalid for documents
// that do not compile, ErrTestsFailed for tests that fail. No Set is built
// in either case.
func Compile(docs []*Document, opts *CompileOptions) (*Set, error) {
	env, err := Env()
	if err != nil {
		return nil, fmt.Errorf("policy: building the CEL environment: %w", err)
	}
	diags := &Diagnostics{}
	s := &Set{}
	ids := map[string]*Document{}
	// Large sets are usually generated, and many rules share a condition;
	// programs are immutable, so rules with the same text share one.
	progs := map[string]*rule{}
	h := sha256.New()
	for _, d := range docs {
		fmt.Fprintf(h, "%d:%s\n%d:", len(d.Name), d.Name, len(d.source))
		h.Write(d.source)
		s.docs = append(s.docs, d.Name)
		for i := range d.Rules {
			r := &d.Rules[i]
			if other, dup := ids[r.ID]; dup {
				diags.add(d.Name, r.line, r.col, r.ID, "duplicate rule id (also in %s)", other.Name)
				continue
			}
			ids[r.ID] = d
			cr, ok := compileRule(env, d, r, opts.maxCost(), diags, progs)
			if ok {
				s.rules = append(s.rules, cr)
			}
		}
	}
	if err := diags.err(); err != nil {
		return nil, err
	}
	s.version = hex.EncodeToString(h.Sum(nil)[:12])
	s.index = buildIndex(s.rules)
	s.adapter = env.CELTypeAdapter()
	s.source = docs
	if opts == nil || !opts.SkipTests {
		if err := s.RunTests(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func compileRule(env *cel.Env, d *Document, r *Rule, maxCost uint64, diags *Diagnostics, progs map[string]*rule) (*rule, bool) {
	cr := &rule{
		id:          r.ID,
		description: r.Description,
		effect:      r.Effect,
		obligations: r.Obligations,
		file:        d.Name,
		line:        r.line,
		kinds:       r.Resources.Kinds,
	}
	// Parse checks kinds, but a Document's rules may be edited after it;
	// the index files a rule under "" as one for any kind, so an empty
	// kind here would widen the rule to every resource.
	for _, k := range r.Resources.Kinds {
		if !validKind(k) {
			diags.add(d.Name, r.line, r.col, r.ID, "kind %q is not one of tcp, udp, http, usb, serial", k)
			return nil, false
		}
	}
	for k, v := range r.Resources.Labels {
		cr.labels = append(cr.labels, label{k, v})
	}
	for _, n := range r.Resources.Names {
		cr.names = append(cr.names, compileGlob(n))
	}
	if strings.TrimSpace(r.When) == "" {
		cr.always = true
		return cr, true
	}
	if same, ok := progs[r.When]; ok {
		cr.prg, cr.fast, cr.cost, cr.bounded = same.prg, same.fast, same.cost, same.bounded
		return cr, true
	}
	ast, iss := env.Compile(r.When)
	if iss != nil && iss.Err() != nil {
		for _, e := range iss.Errors() {
			line, col := celPosition(d.source, r.when, e.Location)
			diags.add(d.Name, line, col, r.ID, "%s", e.Message)
		}
		return nil, false
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		line, col := celPosition(d.source, r.when, common.NoLocation)
		diags.add(d.Name, line, col, r.ID, "condition must be a bool, but it is %s", ast.OutputType())
		return nil, false
	}
	est, err := env.EstimateCost(ast, sizeEstimator{list: hintListLen, str: hintStringLen})
	if err != nil {
		line, col := celPosition(d.source, r.when, common.NoLocation)
		diags.add(d.Name, line, col, r.ID, "estimating cost: %v", err)
		return nil, false
	}
	if est.Max > maxCost {
		line, col := celPosition(d.source, r.when, common.NoLocation)
		diags.add(d.Name, line, col, r.ID, "condition may cost up to %d, more than the limit of %d (nested loops over request lists?)", est.Max, maxCost)
		return nil, false
	}
	// A condition whose worst case grows at most linearly with the request's
	// sizes costs no more than building the request did, and needs no
	// runtime accounting (which would slow every decision by a third). One
	// that grows faster — nested loops over request lists — is held to the
	// limit at run time, for requests larger than the hints.
	const growth = 16
	big, err := env.EstimateCost(ast, sizeEstimator{list: hintListLen * growth, str: hintStringLen * growth})

	// The program runs the checked AST as written: no constant folding and
	// no cel.OptOptimize. Both rewrite "x in []" to false (and cel-go's
	// folder "a" in ["a", y] to true) without evaluating x or y, so a
	// condition that CEL says fails — and so must deny — would quietly
	// decide instead. Only constant regular expressions are compiled
	// ahead, which changes no result (a bad one fails the compile).
	popts := []cel.ProgramOption{cel.OptimizeRegex(interpreter.MatchesRegexOptimization)}
	if err != nil || big.Max/growth > est.Max+est.Max/8 {
		popts = append(popts, cel.CostLimit(maxCost), cel.InterruptCheckFrequency(64))
		cr.bounded = true
	}
	prg, err := env.Program(ast, popts...)
	if err != nil {
		line, col := celPosition(d.source, r.when, common.NoLocation)
		diags.add(d.Name, line, col, r.ID, "%v", err)
		return nil, false
	}
	cr.prg = prg
	cr.fast = fastCompile(ast)
	cr.cost = est.Max
	progs[r.When] = cr
	return cr, true
}

// celPosition maps a position inside a condition to the file. Positions in
// folded scalars are approximate: folding has joined the lines.
func celPosition(src []byte, at scalarPos, loc common.Location) (int, int) {
	line, col := at.line, at.col
	if loc == nil || loc.Line() <= 0 {
		return line, col
	}
	switch at.style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// The text starts on the line after the indicator, at that
		// line's indentation.
		l := at.line + loc.Line()
		if at.style == yaml.FoldedStyle {
			l = at.line + 1
		}
		return l, indentOf(src, l) + loc.Column() + 1
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		if loc.Line() == 1 {
			return line, col + 1 + loc.Column()
		}
	default:
		if loc.Line() == 1 {
			return line, col + loc.Column()
		}
	}
	return line + loc.Line() - 1, loc.Column() + 1
}

func indentOf(src []byte, line int) int {
	lines := strings.SplitN(string(src), "\n", line+1)
	if line-1 >= len(lines) || line < 1 {
		return 0
	}
	l := lines[line-1]
	return len(l) - len(strings.TrimLeft(l, " \t"))
}

// ParseFiles reads and parses policy documents from files. Every file is
// read; the problems of all of them are returned together.
func ParseFiles(paths ...string) ([]*Document, error) {
	var docs []*Document
	all := &Diagnostics{}
	for _, p := range paths {
		data, err := readLimited(p)
		if err != nil {
			all.add(p, 0, 0, "", "%v", err)
			continue
		}
		d, err := Parse(p, data)
		var ds *Diagnostics
		if errors.As(err, &ds) {
			all.List = append(all.List, ds.List...)
			continue
		} else if err != nil {
			return nil, err
		}
		docs = append(docs, d)
	}
	if err := all.err(); err != nil {
		return nil, err
	}
	return docs, nil
}

// LoadFiles parses and compiles policy files into a Set, running their
// tests.
func LoadFiles(opts *CompileOptions, paths ...string) (*Set, error) {
	docs, err := ParseFiles(paths...)
	if err != nil {
		return nil, err
	}
	return Compile(docs, opts)
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading policy: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory; name the files (e.g. %s)", path, filepath.Join(path, "*.yaml"))
	}
	if st.Size() > MaxDocumentBytes {
		return nil, fmt.Errorf("file is %d bytes, more than the limit of %d", st.Size(), MaxDocumentBytes)
	}
	return os.ReadFile(path)
}

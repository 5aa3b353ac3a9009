package policy

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrInvalid is wrapped by every error about a malformed document: YAML
	// syntax, unknown keys, wrong types, CEL that does not compile.
	ErrInvalid = errors.New("policy: invalid document")
	// ErrTestsFailed is wrapped when a document's own tests fail; the set is
	// not built and an Engine keeps the set it had.
	ErrTestsFailed = errors.New("policy: tests failed")
	// ErrNoSet is returned by an Engine that has never loaded a set.
	ErrNoSet = errors.New("policy: no policy set loaded")
)

// A Diagnostic is one problem found in a document, with its position.
type Diagnostic struct {
	// File is the document's name as given to Parse.
	File string
	// Line and Column are 1-based; zero when the position is unknown.
	Line, Column int
	// Rule is the id of the rule the problem is in, if any.
	Rule string
	// Message says what is wrong, in lower case without a trailing period.
	Message string
}

// String formats the diagnostic as file:line:col: message, the form editors
// and CI annotate from.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.File)
	if d.Line > 0 {
		fmt.Fprintf(&b, ":%d", d.Line)
		if d.Column > 0 {
			fmt.Fprintf(&b, ":%d", d.Column)
		}
	}
	b.WriteString(": ")
	if d.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", d.Rule)
	}
	b.WriteString(d.Message)
	return b.String()
}

// Diagnostics is a list of problems, returned as an error by Parse, Compile
// and the loaders. Use errors.As to get at the individual entries.
type Diagnostics struct {
	List []Diagnostic
	// kind is ErrInvalid or ErrTestsFailed.
	kind error
}

func (d *Diagnostics) Error() string {
	lines := make([]string, len(d.List))
	for i, e := range d.List {
		lines[i] = e.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.Is match ErrInvalid or ErrTestsFailed.
func (d *Diagnostics) Unwrap() error { return d.kind }

func (d *Diagnostics) add(file string, line, col int, rule, format string, args ...any) {
	d.List = append(d.List, Diagnostic{File: file, Line: line, Column: col, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

func (d *Diagnostics) err() error {
	if d == nil || len(d.List) == 0 {
		return nil
	}
	if d.kind == nil {
		d.kind = ErrInvalid
	}
	return d
}

// A RuleError is a rule's condition that failed to evaluate for one request:
// a missing map key, a cost limit, a cancelled context. The rule did not
// allow; a deny rule that fails denies.
type RuleError struct {
	Rule string
	Err  error
}

func (e *RuleError) Error() string { return fmt.Sprintf("policy: rule %q: %v", e.Rule, e.Err) }

func (e *RuleError) Unwrap() error { return e.Err }

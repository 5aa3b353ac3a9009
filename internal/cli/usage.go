// Package cli gives Gonaut's example commands one way to describe
// themselves: a usage message under the command's own name (not the
// temporary path `go run` builds it at), with what it does and its flags,
// and exit status 0 when asked for help.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

// Describe names the process's flag set (flag.CommandLine) and gives it a
// usage message: "Usage: name synopsis", the description, then the flags.
// Call it before defining flags with the flag package's functions.
// Asked for -h, the command prints that message and exits with status 0;
// a bad flag prints it and exits with status 2.
func Describe(name, synopsis, description string) *flag.FlagSet {
	flag.CommandLine = flag.NewFlagSet(name, flag.ExitOnError)
	return DescribeSet(flag.CommandLine, synopsis, description)
}

// DescribeSet gives fs the usage message of [Describe], under fs.Name().
func DescribeSet(fs *flag.FlagSet, synopsis, description string) *flag.FlagSet {
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: %s %s\n\n%s\n\nFlags:\n", fs.Name(), synopsis, description)
		fs.PrintDefaults()
	}
	return fs
}

// Parse parses args with fs (made with flag.ContinueOnError). A bad flag
// comes back as a *UsageError, -h as flag.ErrHelp; fs has printed the usage
// message for both.
func Parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return &UsageError{Err: err}
	}
	return err
}

// A UsageError is a command line that does not parse.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Fail ends the process after err: with status 0 when it is flag.ErrHelp
// (the usage was printed already), 2 for a *UsageError, and otherwise 1
// after printing "name: err" to standard error.
func Fail(name string, err error) {
	var ue *UsageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, &ue):
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	os.Exit(1)
}

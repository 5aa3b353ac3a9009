package cli_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExamplesDescribeThemselves builds every example command and asks it
// for -h: it exits 0 and prints a usage line under its own name (not the
// path it was built at), a description and its flags. A bad flag exits 2.
func TestExamplesDescribeThemselves(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every example")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := filepath.Glob(filepath.Join(root, "examples", "*", "main.go"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+string(filepath.Separator), "./examples/...")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/...: %v\n%s", err, out)
	}
	for _, m := range dirs {
		name := filepath.Base(filepath.Dir(m))
		t.Run(name, func(t *testing.T) {
			exe := filepath.Join(bin, name)
			if _, err := os.Stat(exe); err != nil {
				t.Fatalf("not built: %v", err)
			}
			out, err := exec.Command(exe, "-h").CombinedOutput()
			if err != nil {
				t.Fatalf("%s -h: %v\n%s", name, err, out)
			}
			text := string(out)
			if !strings.HasPrefix(text, "Usage: "+name+" ") || strings.Contains(text, bin) {
				t.Errorf("usage does not start with the command's name:\n%s", text)
			}
			if lines := strings.Split(text, "\n"); len(lines) < 4 || strings.TrimSpace(lines[2]) == "" {
				t.Errorf("usage has no description:\n%s", text)
			}
			if !strings.Contains(text, "Flags:\n  -") {
				t.Errorf("usage lists no flags:\n%s", text)
			}
			err = exec.Command(exe, "-no-such-flag").Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Errorf("%s -no-such-flag: %v, want exit status 2", name, err)
			}
		})
	}
}

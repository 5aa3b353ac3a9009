// Package depcheck lets a package's tests assert what it may depend on, the
// way tsnet guards against pulling in heavy dependencies.
package depcheck

import (
	"os/exec"
	"strings"
	"testing"
)

// Deps returns every package pkg depends on, directly or not, as go list
// -deps reports them. The test is skipped when the go command is missing.
func Deps(t testing.TB, pkg string) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not in PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	return strings.Fields(string(out))
}

// Imports returns the packages pkg imports directly in its non-test
// files, as go list reports them: what a layer may name, whatever its
// imports depend on in turn.
func Imports(t testing.TB, pkg string) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not in PATH")
	}
	out, err := exec.Command(goBin, "list", "-f", "{{join .Imports \"\\n\"}}", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -f {{.Imports}} %s: %v\n%s", pkg, err, out)
	}
	return strings.Fields(string(out))
}

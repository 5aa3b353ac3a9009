package ui_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedIsCurrent regenerates the templ components in a scratch
// directory with the pinned templ (go tool templ, v0.3.1020 in go.mod)
// and fails if any committed *_templ.go differs: edit the .templ file and
// run `go generate ./apps/console/...`.
func TestGeneratedIsCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the templ generator")
	}
	srcs, _ := filepath.Glob("*.templ")
	if len(srcs) == 0 {
		t.Fatal("no .templ files")
	}
	dir := t.TempDir()
	for _, s := range srcs {
		data, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, s), data, 0o644)
	}
	cmd := exec.Command("go", "tool", "templ", "generate", "-path", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("templ generate: %v\n%s", err, out)
	}
	for _, s := range srcs {
		gen := strings.TrimSuffix(s, ".templ") + "_templ.go"
		want, err := os.ReadFile(filepath.Join(dir, gen))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(gen)
		if err != nil {
			t.Fatalf("%s is not committed: run go generate", gen)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run `go generate ./apps/console/internal/ui`", gen)
		}
	}
}

package ztna

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/ztna/controlplane"
)

// TestEveryEventKindReachesTheConsole reads every Event* string constant
// of this package from its source, so that a kind added later is checked
// too, and asserts that ConsoleAudit sends it as a kind the console
// accepts: one it would refuse would be lost from the audit log.
func TestEveryEventKindReachesTheConsole(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var kinds []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, sp := range gd.Specs {
				vs := sp.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, "Event") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, _ := strconv.Unquote(lit.Value)
						kinds = append(kinds, v)
					}
				}
			}
		}
	}
	if len(kinds) < 7 {
		t.Fatalf("found event kinds %v, want at least the seven of event.go and presence.go", kinds)
	}
	for _, k := range kinds {
		if ck := consoleKind(k); !slices.Contains(controlplane.EventKinds, ck) {
			t.Errorf("kind %q is sent as %q, which the console refuses (controlplane.EventKinds = %v)", k, ck, controlplane.EventKinds)
		}
	}
}

package ztna

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// decisionOwner is the one file of the package that asks policy (see
// access.go and the package doc).
const decisionOwner = "access.go"

// TestOnlyTheDecisionOwnerAsksPolicy guards that the access decision
// exists once: no file of the package but decisionOwner names the policy
// engine's deciding methods (policy.Engine.Decide, policy.Set.Decide) or
// policy.Simulate, whether it calls them or takes them as method values.
// A handler of a new resource kind or obligation goes through decide
// instead.
func TestOnlyTheDecisionOwnerAsksPolicy(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	ownerDecides := false
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		policyName := importName(f, "github.com/gonaut/gonaut/policy")
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			asks := sel.Sel.Name == "Decide"
			if x, ok := sel.X.(*ast.Ident); ok && policyName != "" && x.Name == policyName && sel.Sel.Name == "Simulate" {
				asks = true
			}
			if !asks {
				return true
			}
			if name == decisionOwner {
				ownerDecides = true
				return true
			}
			t.Errorf("%s: %s asks policy outside %s; decide there, through an accessQuery", fset.Position(sel.Pos()), sel.Sel.Name, decisionOwner)
			return true
		})
	}
	if !ownerDecides {
		t.Errorf("%s asks policy nowhere: is it still the decision owner?", decisionOwner)
	}
}

// importName is the name under which f imports path, or "".
func importName(f *ast.File, path string) string {
	for _, im := range f.Imports {
		if strings.Trim(im.Path.Value, `"`) != path {
			continue
		}
		if im.Name != nil {
			return im.Name.Name
		}
		return path[strings.LastIndex(path, "/")+1:]
	}
	return ""
}

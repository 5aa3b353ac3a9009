package server

import (
	"strings"
	"testing"

	"github.com/gonaut/gonaut/internal/depcheck"
)

// TestLayers keeps the console's layers apart: the transports in this
// package decode, call the domain and encode; they never reach the store
// (or the database drivers) themselves, so that every operation, its
// checks and its audit record exist once, in package domain.
func TestLayers(t *testing.T) {
	const base = "github.com/gonaut/gonaut/apps/console/internal/"
	for _, imp := range depcheck.Imports(t, base+"server") {
		switch {
		case imp == base+"store", strings.HasPrefix(imp, base+"store/"):
			t.Errorf("package server imports %s; transports call package domain", imp)
		case strings.HasPrefix(imp, "github.com/jackc/pgx"), strings.HasPrefix(imp, "modernc.org/sqlite"), imp == "database/sql":
			t.Errorf("package server imports %s; only the store talks to the database", imp)
		}
	}
	for _, imp := range depcheck.Imports(t, base+"domain") {
		if imp == "net/http" || strings.HasPrefix(imp, base+"server") || strings.HasPrefix(imp, base+"ui") {
			t.Errorf("package domain imports %s; operations know nothing of their transports", imp)
		}
	}
}

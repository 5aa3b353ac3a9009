package serialfwd_test

import (
	"strings"
	"testing"

	"github.com/gonaut/gonaut/internal/depcheck"
)

// TestDependencies keeps the leaf package a leaf: OpenTelemetry's API but
// not its SDK, nothing from the tunnel's networking stack, and no other
// Gonaut package but its own sub-packages and the shared ones under
// internal/ (the leaves never import each other).
func TestDependencies(t *testing.T) {
	const self = "github.com/gonaut/gonaut/serialfwd"
	for _, dep := range depcheck.Deps(t, self) {
		switch {
		case strings.HasPrefix(dep, "go.opentelemetry.io/otel/sdk"):
			t.Errorf("serialfwd imports the OTel SDK (%s); libraries use the API only", dep)
		case strings.HasPrefix(dep, "golang.zx2c4.com/"), strings.HasPrefix(dep, "gvisor.dev/"):
			t.Errorf("serialfwd depends on %s", dep)
		case dep == self, strings.HasPrefix(dep, self+"/"), strings.HasPrefix(dep, "github.com/gonaut/gonaut/internal/"):
		case strings.HasPrefix(dep, "github.com/gonaut/gonaut/"):
			t.Errorf("serialfwd imports %s; leaves do not import other Gonaut packages", dep)
		}
	}
}

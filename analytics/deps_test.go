package analytics_test

import (
	"strings"
	"testing"

	"github.com/gonaut/gonaut/internal/depcheck"
)

// TestDependencies keeps the leaf package light: OpenTelemetry's API but
// not its SDK, and no other Gonaut package (the leaves never import each
// other).
func TestDependencies(t *testing.T) {
	for _, dep := range depcheck.Deps(t, "github.com/gonaut/gonaut/analytics") {
		switch {
		case strings.HasPrefix(dep, "go.opentelemetry.io/otel/sdk"):
			t.Errorf("analytics imports the OTel SDK (%s); libraries use the API only", dep)
		case strings.HasPrefix(dep, "github.com/gonaut/gonaut/") && dep != "github.com/gonaut/gonaut/analytics":
			t.Errorf("analytics imports %s; leaves do not import other Gonaut packages", dep)
		}
	}
}

package policy_test

import (
	"strings"
	"testing"

	"github.com/gonaut/gonaut/internal/depcheck"
)

// TestDependencies keeps the policy engine a leaf: CEL and YAML, no other
// Gonaut package, and nothing from the networking stack (a policy check in
// CI should not pull in WireGuard or gVisor).
func TestDependencies(t *testing.T) {
	for _, dep := range depcheck.Deps(t, "github.com/gonaut/gonaut/policy") {
		switch {
		case strings.HasPrefix(dep, "github.com/gonaut/gonaut/") && dep != "github.com/gonaut/gonaut/policy":
			t.Errorf("policy imports %s; leaves do not import other Gonaut packages", dep)
		case strings.HasPrefix(dep, "golang.zx2c4.com/"), strings.HasPrefix(dep, "gvisor.dev/"),
			strings.HasPrefix(dep, "go.opentelemetry.io/otel/sdk"):
			t.Errorf("policy depends on %s", dep)
		}
	}
}

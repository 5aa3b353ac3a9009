package analytics_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the leaf package light: OpenTelemetry's API but
// not its SDK, and no other Gonaut package (the leaves never import each
// other).
func TestDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not in PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", "github.com/gonaut/gonaut/analytics").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(dep, "go.opentelemetry.io/otel/sdk"):
			t.Errorf("analytics imports the OTel SDK (%s); libraries use the API only", dep)
		case strings.HasPrefix(dep, "github.com/gonaut/gonaut/") && dep != "github.com/gonaut/gonaut/analytics":
			t.Errorf("analytics imports %s; leaves do not import other Gonaut packages", dep)
		}
	}
}

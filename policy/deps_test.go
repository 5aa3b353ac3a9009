package policy_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the policy engine a leaf: CEL and YAML, no other
// Gonaut package, and nothing from the networking stack (a policy check in
// CI should not pull in WireGuard or gVisor).
func TestDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not in PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", "github.com/gonaut/gonaut/policy").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(dep, "github.com/gonaut/gonaut/") && dep != "github.com/gonaut/gonaut/policy":
			t.Errorf("policy imports %s; leaves do not import other Gonaut packages", dep)
		case strings.HasPrefix(dep, "golang.zx2c4.com/"), strings.HasPrefix(dep, "gvisor.dev/"),
			strings.HasPrefix(dep, "go.opentelemetry.io/otel/sdk"):
			t.Errorf("policy depends on %s", dep)
		}
	}
}

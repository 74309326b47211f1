package http_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDependencies proves that importing the package links only the
// standard library, micro's root package (with what the root links) and
// micro's transport kit: no HTTP framework, no x/net, no other transport.
func TestDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	nonStandard := func(pkg string) []string {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		return strings.Fields(string(out))
	}
	const module = "github.com/dancinggopher/micro"
	allowed := append(nonStandard(module), module+"/transport", module+"/internal/lifecycle", module+"/transport/http")
	for _, pkg := range nonStandard(module + "/transport/http") {
		if !slices.Contains(allowed, pkg) {
			t.Errorf("transport/http links %s", pkg)
		}
	}
}

package otelmicro_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCoreLinksNoOpenTelemetry checks that OpenTelemetry stays in this
// package: the root package, and a service on it with transport/inproc,
// link only the standard library, golang.org/x/sync and the module's own
// packages.
func TestCoreLinksNoOpenTelemetry(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	const module = "github.com/dancinggopher/micro"
	for _, pkg := range []string{module, module + "/transport/inproc"} {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			own := dep == module || strings.HasPrefix(dep, module+"/") && !strings.HasPrefix(dep, module+"/otelmicro")
			if !own && !strings.HasPrefix(dep, "golang.org/x/sync/") {
				t.Errorf("%s links %s", pkg, dep)
			}
		}
	}
}

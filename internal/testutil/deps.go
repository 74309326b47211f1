package testutil

import (
	"os/exec"
	"strings"
	"testing"
)

// NotLinked fails t unless no package pkg depends on (pkg included) has an
// import path starting with one of prefixes. It runs go list, so it skips
// the test under -short.
func NotLinked(t testing.TB, pkg string, prefixes ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the go command")
	}
	out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, p := range prefixes {
			if strings.HasPrefix(dep, p) {
				t.Errorf("%s links %s", pkg, dep)
			}
		}
	}
}

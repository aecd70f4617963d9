package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/pumpd/pump/internal/testing/testutil"
)

// The release build links no test code: the faulty sink and the helpers
// under internal/testing/ come in only with the pumptest tag.
func TestReleaseBuildLinksNoTestPackage(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./cmd/pump")
	cmd.Dir = testutil.ModuleRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/pump: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.Contains(pkg, "/internal/testing/") {
			t.Errorf("bin/pump links %s", pkg)
		}
	}
	cmd = exec.Command("go", "list", "-deps", "-tags", "pumptest", "./cmd/pump")
	cmd.Dir = testutil.ModuleRoot(t)
	if out, err = cmd.CombinedOutput(); err != nil {
		t.Fatalf("go list -deps -tags pumptest ./cmd/pump: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "github.com/pumpd/pump/internal/testing/faulty\n") {
		t.Error("the pumptest build lacks the faulty sink the fault tests use")
	}
}

package testutil

import (
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"testing"
)

// Promtool is the path of Prometheus's promtool; the test fails without it.
func Promtool(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is not installed (make test installs Debian's prometheus package): %v", err)
	}
	return path
}

// RunPromtool runs promtool with args in dir and fails the test, with its
// output, unless it succeeds.
func RunPromtool(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(Promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// ExportedMetrics scrapes a daemon's /metrics at addr and returns the names
// of the metric families it exports.
func ExportedMetrics(t testing.TB, addr string) map[string]bool {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s %v\n%s", resp.Status, err, body)
	}
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) `).FindAllSubmatch(body, -1) {
		names[string(m[1])] = true
	}
	return names
}

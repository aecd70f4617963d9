//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
)

// A stdout pump's reader gets records only: the log, left at its default,
// goes to stderr instead of interleaving with them.
func TestAStdoutPumpLeavesStdoutToTheRecords(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	const n = 300
	testutil.Seed(t, r.Client(), key, 0, n)
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	cfg := testutil.WriteFile(t, "pump.yaml", fmt.Sprintf(`purge-delay: 1
health-check-address: %s
redis: {host: 127.0.0.1, port: %d}
pumps:
  out: {type: stdout}
`, addr, r.Port))

	code, validated := testutil.RunPump(t, nil, "validate", "-c", cfg)
	if want := "note: the log goes to stderr, since pump out writes records on stdout"; code != 0 || !strings.Contains(validated, want) {
		t.Errorf("validate: exit %d, want 0 and %q:\n%s", code, want, validated)
	}

	var stdout, stderr testutil.SyncBuffer
	cmd := exec.Command(testutil.PumpBinary(t), "run", "-c", cfg)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	testutil.Eventually(t, time.Minute, "the list drained", func() bool { return listLen(t, r, key) == 0 })
	testutil.Eventually(t, time.Minute, "every record on stdout", func() bool { return strings.Count(stdout.String(), "\n") >= n })
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("pump: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != n {
		t.Errorf("%d lines on stdout, want the %d records", len(lines), n)
	}
	for i, line := range lines {
		var rec analytics.Record
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Username == "" {
			t.Fatalf("stdout line %d is not a record (%v): %q", i+1, err, line)
		}
	}
	for _, want := range []string{"starting", "holding the drain lease"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks the log line %q:\n%s", want, stderr.String())
		}
	}
}

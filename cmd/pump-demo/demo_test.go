package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/internal/testing/testutil"
)

var (
	buildOnce sync.Once
	demoPath  string
	buildErr  error
)

// demoBinary builds this command once per test process.
func demoBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pump-demo-bin-")
		if err != nil {
			buildErr = err
			return
		}
		demoPath = filepath.Join(dir, "pump-demo")
		cmd := exec.Command("go", "build", "-o", demoPath, "./cmd/pump-demo")
		cmd.Dir = testutil.ModuleRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/pump-demo: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return demoPath
}

// startDemo runs the demo binary against the real pump binary.
func startDemo(t *testing.T, args ...string) (*exec.Cmd, *testutil.SyncBuffer, chan int) {
	t.Helper()
	out := &testutil.SyncBuffer{}
	cmd := exec.Command(demoBinary(t), append([]string{"--pump", testutil.PumpBinary(t)}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() { done <- exitCode(cmd.Wait()) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("demo output:\n%s", out)
		}
	})
	return cmd, out, done
}

func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return -1
}

var summary = regexp.MustCompile(`produced (\d+) records; (\d+) new rows in the CSV files under .*; (\d+) left in Redis`)

// checkSummary fails unless the demo says it moved every record it made.
func checkSummary(t *testing.T, run, out string) {
	t.Helper()
	m := summary.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("%s demo: no summary line:\n%s", run, out)
	}
	produced, _ := strconv.Atoi(m[1])
	rows, _ := strconv.Atoi(m[2])
	if produced == 0 || rows != produced || m[3] != "0" {
		t.Fatalf("%s demo: produced %d, %d new CSV rows, %s left: want every record moved\n%s", run, produced, rows, m[3], out)
	}
}

func wait(t *testing.T, done chan int, out *testutil.SyncBuffer) int {
	t.Helper()
	select {
	case code := <-done:
		return code
	case <-time.After(3 * time.Minute):
		t.Fatalf("the demo still runs; output:\n%s", out)
		return -1
	}
}

// The README's first command: the demo drains everything it produced, and
// a second run into the same directory counts only its own rows.
func TestDemoMovesEveryRecordItProduced(t *testing.T) {
	testutil.NeedsBinary(t)
	dir := t.TempDir()
	for _, run := range []string{"first", "second"} {
		_, out, done := startDemo(t, "--duration", "3s", "--out", dir)
		if code := wait(t, done, out); code != 0 {
			t.Fatalf("%s demo: exit %d\n%s", run, code, out)
		}
		checkSummary(t, run, out.String())
	}
}

// Ctrl-C: the producer stops, the pump drains the rest and stops, and
// everything exits 0; the banner named the probe URLs before.
func TestDemoStopsCleanlyOnCtrlC(t *testing.T) {
	testutil.NeedsBinary(t)
	cmd, out, done := startDemo(t, "--out", t.TempDir())
	testutil.Eventually(t, 2*time.Minute, "the demo's banner", func() bool {
		return regexp.MustCompile(`readiness  http://127\.0\.0\.1:\d+/readyz`).MatchString(out.String())
	})
	for _, probe := range []string{"/healthz", "/readyz", "/metrics"} {
		url := regexp.MustCompile(`http://127\.0\.0\.1:\d+` + probe).FindString(out.String())
		if url == "" || testutil.HTTPStatus(url) != 200 {
			t.Errorf("the banner's %s URL %q does not answer 200", probe, url)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := wait(t, done, out); code != 0 {
		t.Fatalf("exit %d after Ctrl-C, want 0\n%s", code, out)
	}
	checkSummary(t, "interrupted", out.String())
}

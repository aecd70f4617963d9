//go:build linux

package main

// The live status line, on a real pseudo-terminal.

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pumpd/pump/internal/testing/testutil"
)

// openPTY returns a new pseudo-terminal's two ends, 200 columns wide.
func openPTY(t *testing.T) (ptmx, pts *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pts.Close() })
	if err := unix.IoctlSetWinsize(int(pts.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 50, Col: 200}); err != nil {
		t.Fatal(err)
	}
	return ptmx, pts
}

// runOnTerminal runs the pump with stdout and stderr on a pseudo-terminal,
// the environment without CI plus env, until it has drained n records
// and then stopped; it returns what the terminal received.
func runOnTerminal(t *testing.T, n int, env ...string) string {
	t.Helper()
	r := testutil.StartRedis(t)
	d := testutil.WriteConfig(t, r.Port, "  out:\n    type: stdout\n    meta: {prefix: \"record: \"}\n  d:\n    type: dummy\n", "")
	ptmx, pts := openPTY(t)
	var screen testutil.SyncBuffer
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(&screen, ptmx); close(copied) }()

	cmd := exec.Command(testutil.PumpBinary(t), "-c", d.ConfigPath)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CI=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, append([]string{"TERM=xterm"}, env...)...)
	cmd.Stdout, cmd.Stderr = pts, pts
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	testutil.Eventually(t, time.Minute, "the pump ready", func() bool { return testutil.HTTPStatus(d.ReadyURL()) == 200 })
	testutil.Seed(t, r.Client(), key, 0, n)
	testutil.Eventually(t, time.Minute, "drained", func() bool { return listLen(t, r, key) == 0 })
	// The line is redrawn a few times a second: wait for one showing the
	// backlog read after the drain, not for a time.
	if len(env) == 0 {
		testutil.Eventually(t, time.Minute, "the status line drawn", func() bool {
			return strings.Contains(screen.String(), fmt.Sprintf("| out %d", n))
		})
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("pump: %v\n%q", err, screen.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("the pump did not stop:\n%q", screen.String())
	}
	exited <- nil // for the cleanup
	testutil.Eventually(t, time.Minute, "the terminal's output read", func() bool {
		return strings.Contains(screen.String(), "loop stopped")
	})
	pts.Close() // the copy ends once no one holds the terminal open
	select {
	case <-copied:
	case <-time.After(10 * time.Second):
	}
	return screen.String()
}

const eraseLine = "\r\x1b[K"

var logStart = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\t`)

func TestStatusLineOnATerminalNeverGarblesLogOrRecordLines(t *testing.T) {
	testutil.NeedsBinary(t)
	const n = 3000
	screen := runOnTerminal(t, n)
	if !strings.Contains(screen, "pump: ") || !strings.Contains(screen, " records/s | backlog ") {
		t.Fatalf("no status line on the terminal:\n%q", screen)
	}
	lines := strings.Split(screen, "\n")
	logs, records := 0, 0
	for _, line := range lines[:len(lines)-1] {
		line = strings.TrimSuffix(line, "\r") // the terminal's own CR before LF
		// What the terminal shows of a row is what follows its last erase.
		if i := strings.LastIndex(line, eraseLine); i >= 0 {
			line = line[i+len(eraseLine):]
		}
		switch {
		case logStart.MatchString(line):
			logs++
		case strings.HasPrefix(line, "record: {"):
			records++
		default:
			t.Errorf("a row that is neither a clean log line nor a record: %q", line)
		}
		if strings.Contains(line, "records/s |") {
			t.Errorf("status text inside a row: %q", line)
		}
	}
	if records != n || logs == 0 {
		t.Errorf("%d clean record rows (want %d), %d clean log rows", records, n, logs)
	}
	// The last row: the line was taken off when the pump stopped.
	last := lines[len(lines)-1]
	if i := strings.LastIndex(last, eraseLine); i < 0 || last[i+len(eraseLine):] != "" {
		t.Errorf("the terminal's last row shows %q after the stop, want it erased", last)
	}
}

func TestNoStatusLineInCI(t *testing.T) {
	testutil.NeedsBinary(t)
	screen := runOnTerminal(t, 100, "CI=true")
	if strings.Contains(screen, "records/s") || strings.Contains(screen, "\x1b[K") {
		t.Errorf("a status line in CI:\n%q", screen)
	}
}

//go:build linux

package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pumpd/pump/internal/testing/testutil"
)

// openPTY returns a new pseudo-terminal's two ends.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pseudo-terminal number: %v", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the pseudo-terminal's other end: %v", err)
	}
	return master, slave
}

// As a user sees it: `make demo` in a terminal, then Ctrl-C typed there.
// The terminal sends SIGINT to its whole foreground process group, make
// included, and GNU make dies of that signal whatever its recipe's exit
// status, unless the demo took the terminal's foreground for itself.
func TestMakeDemoCtrlCInATerminalExitsZero(t *testing.T) {
	testutil.NeedsBinary(t)
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make is not installed: %v", err)
	}
	dir := t.TempDir()
	makefile := filepath.Join(dir, "Makefile")
	recipe := fmt.Sprintf("demo:\n\t@%s --pump %s --out %s\n", demoBinary(t), testutil.PumpBinary(t), filepath.Join(dir, "out"))
	if err := os.WriteFile(makefile, []byte(recipe), 0o600); err != nil {
		t.Fatal(err)
	}
	master, slave := openPTY(t)
	cmd := exec.Command("make", "-f", makefile, "demo")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// A session of its own with the pseudo-terminal as its controlling
	// terminal: make is in its foreground, as in a shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	out := &testutil.SyncBuffer{}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(out, master) // ends with EIO once every process of the terminal is gone
	}()
	done := make(chan int, 1)
	go func() { done <- exitCode(cmd.Wait()) }()
	testutil.Eventually(t, 2*time.Minute, "the demo's banner", func() bool {
		return regexp.MustCompile(`Ctrl-C stops it cleanly`).MatchString(out.String())
	})
	if _, err := master.Write([]byte{0x03}); err != nil { // ^C, as typed
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("make demo: exit %d after Ctrl-C, want 0\n%s", code, out)
		}
	case <-time.After(3 * time.Minute):
		t.Fatalf("make demo still runs after Ctrl-C:\n%s", out)
	}
	select {
	case <-copied:
	case <-time.After(time.Minute):
	}
	checkSummary(t, "make demo", out.String())
}

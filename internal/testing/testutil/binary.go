package testutil

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// ModuleRoot is the directory holding the daemon's go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// NeedsBinary skips the test under go test -short: it builds and runs the
// pump binary, which takes minutes on a busy machine. Call it first in every
// such test; PumpBinary calls it too, so one that forgets still skips.
func NeedsBinary(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the pump binary; skipped with -short")
	}
}

// PumpBinary builds cmd/pump once per test process, with the race detector
// when the tests run with it and with the pumptest tag, which adds the
// fault-injection sink "faulty", and returns the path of the binary.
func PumpBinary(t testing.TB) string {
	t.Helper()
	NeedsBinary(t)
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pump-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "pump")
		args := []string{"build", "-tags", "pumptest", "-o", buildPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "./cmd/pump")
		cmd := exec.Command("go", args...)
		cmd.Dir = ModuleRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New("go build ./cmd/pump: " + err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// Proc is a pump process started by a test.
type Proc struct {
	t      testing.TB
	Cmd    *exec.Cmd
	out    *SyncBuffer
	done   chan struct{}
	status int
}

// StartPump runs the pump binary with args (the config file included) and
// kills it, if still running, when the test ends.
func StartPump(t testing.TB, env []string, args ...string) *Proc {
	t.Helper()
	p := &Proc{t: t, out: &SyncBuffer{}, done: make(chan struct{})}
	p.Cmd = exec.Command(PumpBinary(t), args...)
	p.Cmd.Stdout = p.out
	p.Cmd.Stderr = p.out
	p.Cmd.Env = append(os.Environ(), env...)
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start pump: %v", err)
	}
	go func() {
		err := p.Cmd.Wait()
		p.status = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.status = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				p.status = 128 + int(ws.Signal())
			}
		} else if err != nil {
			p.status = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("pump output:\n%s", p.Output())
		}
	})
	return p
}

// RunPump runs the binary to completion and returns its exit status and
// output.
func RunPump(t testing.TB, env []string, args ...string) (int, string) {
	t.Helper()
	p := StartPump(t, env, args...)
	return p.Wait(2 * time.Minute), p.Output()
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil && !p.Exited() {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// Kill ends the process with SIGKILL and waits for it.
func (p *Proc) Kill() {
	if !p.Exited() {
		_ = p.Cmd.Process.Kill()
	}
	<-p.done
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits for the process to end and returns its exit status (128+signal
// when a signal ended it); the test fails when it outlives timeout.
func (p *Proc) Wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.status
	case <-time.After(timeout):
		p.t.Fatalf("pump still running after %v; output:\n%s", timeout, p.Output())
		return -1
	}
}

// Output returns everything the process wrote so far.
func (p *Proc) Output() string { return p.out.String() }

// WaitOutput polls until the output contains s.
func (p *Proc) WaitOutput(timeout time.Duration, s string) {
	p.t.Helper()
	Eventually(p.t, timeout, "pump output containing "+s, func() bool {
		return strings.Contains(p.Output(), s) || p.Exited() && strings.Contains(p.Output(), s)
	})
}

// SyncBuffer is a bytes.Buffer that a process and a test may use at once.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WriteFile writes content to name inside a fresh temp dir and returns the
// path.
func WriteFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

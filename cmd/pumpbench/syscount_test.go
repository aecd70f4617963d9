package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMain lets the test binary be the counted child: with
// PUMPBENCH_FDATASYNCS=n it calls fdatasync n times and exits.
func TestMain(m *testing.M) {
	if v := os.Getenv("PUMPBENCH_FDATASYNCS"); v != "" {
		n, _ := strconv.Atoi(v)
		f, err := os.Create(filepath.Join(os.Getenv("PUMPBENCH_DIR"), "synced"))
		if err != nil {
			os.Exit(3)
		}
		for range n {
			if _, err := f.Write([]byte("x")); err != nil || unix.Fdatasync(int(f.Fd())) != nil {
				os.Exit(4)
			}
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestSyscallCounterCountsTheChildsCallsExactly(t *testing.T) {
	for _, n := range []int{0, 1, 37} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "PUMPBENCH_FDATASYNCS="+strconv.Itoa(n), "PUMPBENCH_DIR="+t.TempDir())
		c, why, err := startCounted(cmd.Start, "fdatasync")
		if err != nil {
			t.Fatal(err)
		}
		if c == nil {
			t.Skipf("no system call counter here: %s", why)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child: %v", err)
		}
		got, err := c.count()
		c.close()
		if err != nil {
			t.Fatal(err)
		}
		// This process makes no fdatasync of its own on that thread, so the
		// count is the child's alone.
		if got != int64(n) {
			t.Errorf("counted %d fdatasync calls, the child made %d", got, n)
		}
	}
}

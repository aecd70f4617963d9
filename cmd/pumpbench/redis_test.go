package main

import (
	"os"
	"testing"
	"time"
)

// procCPU of this very process grows as it burns CPU: the fields it reads
// from /proc/<pid>/stat are utime and stime, not a neighbouring counter.
func TestProcCPUGrows(t *testing.T) {
	pid := os.Getpid()
	start := procCPU(pid)
	deadline := time.Now().Add(time.Minute)
	x := uint64(1)
	for procCPU(pid) < start+50*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("procCPU(self) stayed at %v for a minute of spinning (from %v)", procCPU(pid), start)
		}
		for i := 0; i < 1_000_000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	if x == 0 {
		t.Log(x) // keeps the loop
	}
	if procCPU(-1) != 0 {
		t.Fatal("procCPU of no process is not 0")
	}
}

package main

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/pumpd/pump/internal/testutil"
)

// The README's first command: the demo drains everything it produced.
func TestDemoMovesEveryRecordItProduced(t *testing.T) {
	code, out := testutil.RunPump(t, nil, "demo", "--duration", "3s", "--out", t.TempDir())
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s", code, out)
	}
	m := regexp.MustCompile(`produced (\d+) records; (\d+) rows in the CSV files under .*; (\d+) left in Redis`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary line:\n%s", out)
	}
	produced, _ := strconv.Atoi(m[1])
	rows, _ := strconv.Atoi(m[2])
	if produced == 0 || rows != produced || m[3] != "0" {
		t.Fatalf("produced %d, %d CSV rows, %s left: want every record moved\n%s", produced, rows, m[3], out)
	}
}

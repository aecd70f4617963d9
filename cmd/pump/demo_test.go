package main

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/pumpd/pump/internal/testutil"
)

// The README's first command: the demo drains everything it produced, and
// a second run into the same directory counts only its own rows.
func TestDemoMovesEveryRecordItProduced(t *testing.T) {
	dir := t.TempDir()
	for _, run := range []string{"first", "second"} {
		code, out := testutil.RunPump(t, nil, "demo", "--duration", "3s", "--out", dir)
		if code != 0 {
			t.Fatalf("%s demo: exit %d\n%s", run, code, out)
		}
		m := regexp.MustCompile(`produced (\d+) records; (\d+) new rows in the CSV files under .*; (\d+) left in Redis`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("%s demo: no summary line:\n%s", run, out)
		}
		produced, _ := strconv.Atoi(m[1])
		rows, _ := strconv.Atoi(m[2])
		if produced == 0 || rows != produced || m[3] != "0" {
			t.Fatalf("%s demo: produced %d, %d new CSV rows, %s left: want every record moved\n%s", run, produced, rows, m[3], out)
		}
	}
}

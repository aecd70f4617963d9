//go:build linux

package main

// Large records: memory is bounded in bytes (batch-max-bytes), and a record
// bigger than a batch's budget is still delivered, alone.

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
)

func TestHugeRecordAndItsNeighboursAreDeliveredWithDefaultSettings(t *testing.T) {
	testutil.NeedsBinary(t)
	const n, huge = 60, 31
	r := testutil.StartRedis(t)
	request := func(i int) string {
		size := 400 << 10
		if i == huge {
			size = 24 << 20
		}
		return `{"blob":[` + strings.Repeat(`"ladon",`, size/8) + `"end"]}`
	}
	for i := range n {
		rec := testutil.MakeRecord(i)
		rec.Request = request(i)
		raw, err := analytics.Encode(&rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Client().RPush(ctx, key, raw).Err(); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "out.jsonl")
	d := testutil.WriteConfig(t, r.Port, "  files:\n    type: jsonl\n    meta: {path: "+out+"}\n", "")
	// Under -race on a busy machine a drain of these records is slow; a
	// longer lease keeps this test about bytes, not lease renewal.
	p := testutil.StartPump(t, []string{"IAM_PUMP_LEASE_TTL=30s"}, "-c", d.ConfigPath)
	testutil.Eventually(t, 2*time.Minute, "the list drained", func() bool { return listLen(t, r, key) == 0 })
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0\n%s", code, p.Output())
	}

	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(f, 1<<20))
	// At-least-once: a record may come twice after a lost lease, but each
	// comes, intact, and first in the order of the list.
	got, seen := 0, map[string]bool{}
	for line := 1; dec.More(); line++ {
		var rec analytics.Record
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		id := testutil.IDOf(rec)
		if seen[id] {
			continue // written again
		}
		if id != testutil.RecordID(got) {
			t.Fatalf("line %d holds %s, want %s: lost or out of order", line, id, testutil.RecordID(got))
		}
		if rec.Request != request(got) {
			t.Errorf("record %d: request of %d bytes, not the %d it was sent with", got, len(rec.Request), len(request(got)))
		}
		seen[id] = true
		got++
	}
	if got != n {
		t.Fatalf("%d of the %d records in the file", got, n)
	}
	if left := listLen(t, r, "{"+key+"}.dead"); left != 0 {
		t.Errorf("%d dead letters", left)
	}
}

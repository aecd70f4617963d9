package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/internal/testutil"
	"github.com/pumpd/pump/pump"
)

// deadLetters puts records from..to-1 in the dead-letter list, as a pump's
// permanent rejection would, plus one undecodable element.
func deadLetters(t *testing.T, r *testutil.Redis, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		env := pump.DeadLetter{Reason: "rejected for the test", Pump: "j", Time: time.Now(), Key: key, Raw: testutil.EncodedRecord(t, i)}
		if err := r.Client().RPush(ctx, "{"+key+"}.dead", env.Encode()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	poison := pump.DeadLetter{Reason: "malformed", Time: time.Now(), Key: key, Raw: []byte("poison\xff")}
	if err := r.Client().RPush(ctx, "{"+key+"}.dead", poison.Encode()).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestDLQListReplayAndDrop(t *testing.T) {
	r := testutil.StartRedis(t)
	deadLetters(t, r, 0, 30)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	d := testutil.WriteConfig(t, r.Port, "  j:\n    type: jsonl\n    meta: {path: "+out+"}\n", "")
	dead := "{" + key + "}.dead"

	code, list := testutil.RunPump(t, nil, "dlq", "list", "--limit", "5", "-c", d.ConfigPath)
	if code != 0 || !strings.Contains(list, "31 dead letters") || !strings.Contains(list, "showing the oldest 5") ||
		!strings.Contains(list, "rejected for the test") {
		t.Fatalf("dlq list: exit %d\n%s", code, list)
	}

	// Straight to one pump: the 30 records arrive; the poison stays dead.
	code, msg := testutil.RunPump(t, nil, "dlq", "replay", "--pump", "j", "-c", d.ConfigPath)
	if code != 0 || !strings.Contains(msg, "replayed 30") {
		t.Fatalf("dlq replay --pump: exit %d\n%s", code, msg)
	}
	acc := testutil.Tally(ids(testutil.ReadJSONLines(t, out)), 0, 30)
	if len(acc.Missing) > 0 || acc.Duplicates > 0 {
		t.Fatalf("after replay to the pump: %d missing, %d duplicated", len(acc.Missing), acc.Duplicates)
	}
	if n := listLen(t, r, dead); n != 1 {
		t.Fatalf("%d dead letters left, want the undecodable one", n)
	}

	// To the tail of the main list, then drained by the daemon.
	deadLetters(t, r, 30, 40)
	code, msg = testutil.RunPump(t, nil, "dlq", "replay", "-c", d.ConfigPath)
	if code != 0 || !strings.Contains(msg, "replayed 12") {
		t.Fatalf("dlq replay: exit %d\n%s", code, msg)
	}
	if n := listLen(t, r, key); n != 12 { // 10 records and the two poison elements
		t.Fatalf("main list holds %d, want 12", n)
	}
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	testutil.Eventually(t, time.Minute, "replayed records drained", func() bool { return listLen(t, r, key) == 0 })
	p.Signal(syscall.SIGTERM)
	p.Wait(time.Minute)
	acc = testutil.Tally(ids(testutil.ReadJSONLines(t, out)), 0, 40)
	if len(acc.Missing) > 0 || acc.Duplicates > 0 {
		t.Fatalf("after replay to the list: %d missing, %d duplicated", len(acc.Missing), acc.Duplicates)
	}
	if n := listLen(t, r, dead); n != 2 {
		t.Fatalf("%d dead letters, want the two poison elements back", n)
	}

	if code, msg := testutil.RunPump(t, nil, "dlq", "drop", "-c", d.ConfigPath); code != 2 || !strings.Contains(msg, "--yes") {
		t.Fatalf("dlq drop without --yes: exit %d\n%s", code, msg)
	}
	if code, msg := testutil.RunPump(t, nil, "dlq", "drop", "--yes", "-c", d.ConfigPath); code != 0 || !strings.Contains(msg, "dropped 2") {
		t.Fatalf("dlq drop --yes: exit %d\n%s", code, msg)
	}
}

//go:build linux

package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
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
	testutil.NeedsBinary(t)
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

	// Without --pump each letter goes to its pump's parked list, which the
	// daemon replays into that pump only; the undecodable ones stay.
	deadLetters(t, r, 30, 40)
	code, msg = testutil.RunPump(t, nil, "dlq", "replay", "-c", d.ConfigPath)
	if code != 0 || !strings.Contains(msg, "moved 10") {
		t.Fatalf("dlq replay: exit %d\n%s", code, msg)
	}
	if n := listLen(t, r, "{"+key+"}.parked.j"); n != 10 {
		t.Fatalf("j's parked list holds %d, want 10", n)
	}
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	testutil.Eventually(t, time.Minute, "replayed records written", func() bool { return listLen(t, r, "{"+key+"}.parked.j") == 0 })
	p.Signal(syscall.SIGTERM)
	p.Wait(time.Minute)
	acc = testutil.Tally(ids(testutil.ReadJSONLines(t, out)), 0, 40)
	if len(acc.Missing) > 0 || acc.Duplicates > 0 {
		t.Fatalf("after replay through the parked list: %d missing, %d duplicated", len(acc.Missing), acc.Duplicates)
	}
	if n := listLen(t, r, dead); n != 2 {
		t.Fatalf("%d dead letters, want the two poison elements", n)
	}

	if code, msg := testutil.RunPump(t, nil, "dlq", "drop", "-c", d.ConfigPath); code != 2 || !strings.Contains(msg, "--yes") {
		t.Fatalf("dlq drop without --yes: exit %d\n%s", code, msg)
	}
	if code, msg := testutil.RunPump(t, nil, "dlq", "drop", "--yes", "-c", d.ConfigPath); code != 0 || !strings.Contains(msg, "dropped 2") {
		t.Fatalf("dlq drop --yes: exit %d\n%s", code, msg)
	}
}

// replay --pump NAME takes only NAME's letters; the others stay exactly
// where they are, and what NAME refuses again stays dead with the new
// reason while the rest of the replay goes on. Before, every pump's letters
// were written into NAME and deleted from the dead list, and a refusal
// failed the whole command.
func TestDLQReplayIntoOnePumpTakesOnlyItsLetters(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	dead := "{" + key + "}.dead"
	for i := 0; i < 200; i++ {
		owner := "a"
		if i%2 == 1 {
			owner = "b"
		}
		env := pump.DeadLetter{Reason: "down for the test", Pump: owner, Time: time.Now(), Key: key, Raw: testutil.EncodedRecord(t, i)}
		if err := r.Client().RPush(ctx, dead, env.Encode()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	poison := pump.DeadLetter{Reason: "malformed", Time: time.Now(), Key: key, Raw: []byte("poison\xff")}
	r.Client().RPush(ctx, dead, poison.Encode())
	othersBefore := lettersNotOf(t, r, "a")

	dir := t.TempDir()
	aOut, bOut := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	d := testutil.WriteConfig(t, r.Port, "  a:\n    type: faulty\n    meta: {path: "+aOut+", reject_username: user-3}\n"+
		"  b:\n    type: jsonl\n    meta: {path: "+bOut+"}\n", "batch-size: 30\n")
	code, msg := testutil.RunPump(t, nil, "dlq", "replay", "--pump", "a", "-c", d.ConfigPath)
	var want, refused []string
	for i := 0; i < 200; i += 2 {
		if testutil.MakeRecord(i).Username == "user-3" {
			refused = append(refused, testutil.RecordID(i))
		} else {
			want = append(want, testutil.RecordID(i))
		}
	}
	if code != 0 || !strings.Contains(msg, fmt.Sprintf("replayed %d dead letters into pump a; %d refused again", len(want), len(refused))) {
		t.Fatalf("dlq replay --pump a: exit %d\n%s", code, msg)
	}
	got := ids(testutil.ReadJSONLines(t, aOut))
	if !slices.Equal(got, want) {
		t.Fatalf("pump a got %d records, want its %d accepted letters once, in order", len(got), len(want))
	}
	if n := testutil.CountLines(t, bOut); n != 0 {
		t.Fatalf("pump b got %d records from a replay into a", n)
	}
	if after := lettersNotOf(t, r, "a"); !slices.Equal(after, othersBefore) {
		t.Fatalf("the letters of b and the undecodable one changed: %d before, %d after", len(othersBefore), len(after))
	}
	entries, _ := r.Client().LRange(ctx, dead, 0, -1).Result()
	var stillA []string
	for _, e := range entries {
		l, _ := pump.DecodeDeadLetter([]byte(e))
		if l.Pump == "a" {
			if l.Reason != "faulty: record rejected" {
				t.Fatalf("a refused letter kept the old reason %q", l.Reason)
			}
			rec, _ := analytics.Decode(l.Raw)
			stillA = append(stillA, testutil.IDOf(rec))
		}
	}
	if !slices.Equal(stillA, refused) {
		t.Fatalf("a's letters still dead: %v, want the %d refused again", stillA, len(refused))
	}
}

// lettersNotOf lists the dead letters of other pumps than name, as stored.
func lettersNotOf(t *testing.T, r *testutil.Redis, name string) []string {
	t.Helper()
	entries, err := r.Client().LRange(ctx, "{"+key+"}.dead", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if l, _ := pump.DecodeDeadLetter([]byte(e)); l.Pump != name {
			out = append(out, e)
		}
	}
	return out
}

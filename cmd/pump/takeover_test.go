//go:build linux

package main

// A restart does not wait out its own lease: after a kill -9 the next pump
// on the same host sees that the holder's process is gone and takes the
// lease over at once, whatever lease-ttl says.

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pumpd/pump/internal/testing/testutil"
)

func TestARestartAfterKill9TakesItsDeadPredecessorsLeaseAtOnce(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	const n = 3000
	testutil.Seed(t, r.Client(), key, 0, n)
	outA := filepath.Join(t.TempDir(), "a.jsonl")
	outB := filepath.Join(t.TempDir(), "b.jsonl")
	// A slow sink, so the kill comes mid-drain with batches in flight.
	cfg := func(out string) string {
		return testutil.WriteConfig(t, r.Port, "  j:\n    type: faulty\n    meta: {path: "+out+", delay: 20ms}\n",
			"batch-size: 50\nread-ahead: 4\n").ConfigPath
	}
	a := testutil.StartPump(t, nil, "-c", cfg(outA), "--lease-ttl", "5m")
	testutil.Eventually(t, time.Minute, "the first pump draining", func() bool { return testutil.CountLines(t, outA) >= 500 })
	a.Kill() // SIGKILL: no release of the lease
	lease, _ := r.Client().Get(ctx, "{"+key+"}.lease").Result()
	ttl := r.Client().PTTL(ctx, "{"+key+"}.lease").Val()
	if lease == "" || ttl < time.Minute {
		t.Fatalf("after the kill the lease is %q with %v left, want the dead pump's for minutes", lease, ttl)
	}
	t.Logf("killed with %d records left and the lease %q held for %v more", listLen(t, r, key), lease, ttl.Round(time.Second))

	b := testutil.StartPump(t, nil, "-c", cfg(outB), "--lease-ttl", "5m")
	// Far below the 5 minutes the lease has left.
	testutil.Eventually(t, 60*time.Second, "the restarted pump drained the list", func() bool { return listLen(t, r, key) == 0 })
	if !strings.Contains(b.Output(), "took the drain lease over from a dead instance") || !strings.Contains(b.Output(), lease) {
		t.Errorf("the takeover of %q is not logged", lease)
	}
	got := append(ids(testutil.ReadJSONLines(t, outA)), ids(testutil.ReadJSONLines(t, outB))...)
	acc := testutil.Tally(got, 0, n)
	if len(acc.Missing) > 0 {
		t.Fatalf("%d records lost (first %v)", len(acc.Missing), first(acc.Missing))
	}
	t.Logf("%d records written, %d unique, %d again after the kill", len(got), len(acc.Seen), acc.Duplicates)
}

//go:build linux

package main

// Three daemons read one stream through one consumer group; one is
// killed with SIGKILL mid-drain. The others take its pending entries over
// once idle past claim-idle: every record arrives, the only duplicates are
// entries the killed one had pending, and the stream ends empty.

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pumpd/pump/internal/testing/testutil"
)

const stream = "analytics-stream"

func TestThreeInstancesShareAStreamAndSurviveAKill9(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	const n = 6000
	dir := t.TempDir()
	var outs []string
	var procs []*testutil.Proc
	for i := range 3 {
		out := filepath.Join(dir, string(rune('a'+i))+".jsonl")
		outs = append(outs, out)
		// A slow sink (50 ms a batch of 50): one instance alone would take
		// 6 s, so each gets a share; claim-idle above its 2 s timeout.
		d := testutil.WriteConfig(t, r.Port, "  j:\n    type: faulty\n    timeout: 2\n    meta: {path: "+out+", delay: 50ms}\n",
			"batch-size: 50\nread-ahead: 4\nsources:\n  - key: "+stream+"\n    mode: streams\n    claim-idle: 3s\n")
		p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
		p.WaitOutput(time.Minute, "serving probes")
		procs = append(procs, p)
	}
	pipe := r.Client().Pipeline()
	for i := range n {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"data", testutil.EncodedRecord(t, i)}})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, time.Minute, "the first instance writing", func() bool { return testutil.CountLines(t, outs[0]) >= 300 })
	procs[0].Kill()
	// What the killed consumer held: the entries that may come twice.
	var held int64
	consumers, err := r.Client().XInfoConsumers(ctx, stream, "pump").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range consumers {
		held = max(held, c.Pending) // the killed one's, or more: an upper bound
	}
	testutil.Eventually(t, 2*time.Minute, "the stream acknowledged and emptied", func() bool {
		pending, err1 := r.Client().XPending(ctx, stream, "pump").Result()
		n, err2 := r.Client().XLen(ctx, stream).Result()
		return err1 == nil && err2 == nil && pending.Count == 0 && n == 0
	})
	var got []string
	for i, out := range outs {
		part := ids(testutil.ReadJSONLines(t, out))
		if len(part) == 0 {
			t.Errorf("instance %d wrote nothing: the group did not share the load", i)
		}
		t.Logf("instance %d wrote %d records", i, len(part))
		got = append(got, part...)
	}
	acc := testutil.Tally(got, 0, n)
	if len(acc.Missing) > 0 {
		t.Fatalf("%d records lost (first %v)", len(acc.Missing), first(acc.Missing))
	}
	if int64(acc.Duplicates) > held {
		t.Errorf("%d records written twice, more than the %d entries a consumer held pending at the kill", acc.Duplicates, held)
	}
	if dead, _ := r.Client().LLen(ctx, "{"+stream+"}.dead").Result(); dead != 0 {
		t.Errorf("%d dead letters, want none", dead)
	}
	t.Logf("%d records written, %d unique, %d again after the kill (at most %d pending at a consumer then)", len(got), len(acc.Seen), acc.Duplicates, held)
}

// SIGTERM mid-drain of a stream: the batches in flight are written and
// acknowledged, nothing is left pending at the stopped consumer, and what
// it did not read stays in the stream for the next: none lost, none twice.
func TestSIGTERMMidStreamAcknowledgesWhatItWrote(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	const n = 3000
	out := filepath.Join(t.TempDir(), "out.jsonl")
	d := testutil.WriteConfig(t, r.Port, "  j:\n    type: faulty\n    timeout: 2\n    meta: {path: "+out+", delay: 50ms}\n",
		"batch-size: 50\nread-ahead: 4\ninstance-id: first\nsources:\n  - key: "+stream+"\n    mode: streams\n    claim-idle: 3s\n")
	pipe := r.Client().Pipeline()
	for i := range n {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"data", testutil.EncodedRecord(t, i)}})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	testutil.Eventually(t, time.Minute, "the pump writing", func() bool { return testutil.CountLines(t, out) >= 300 })
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0:\n%s", code, p.Output())
	}
	if pending, err := r.Client().XPending(ctx, stream, "pump").Result(); err != nil || pending.Count != 0 {
		t.Fatalf("after the stop %v entries pending (%v), want none: what was read is written and acknowledged", pending, err)
	}
	written := testutil.CountLines(t, out)
	left, _ := r.Client().XLen(ctx, stream).Result()
	if written == n || int64(written)+left != n {
		t.Fatalf("%d written and %d left in the stream, want a part each summing to %d", written, left, n)
	}
	// A second consumer finishes the stream from where the first stopped.
	d2 := testutil.WriteConfig(t, r.Port, "  j:\n    type: faulty\n    timeout: 2\n    meta: {path: "+out+"}\n",
		"instance-id: second\nsources:\n  - key: "+stream+"\n    mode: streams\n    claim-idle: 3s\n")
	testutil.StartPump(t, nil, "-c", d2.ConfigPath)
	testutil.Eventually(t, time.Minute, "the stream emptied", func() bool {
		n, err := r.Client().XLen(ctx, stream).Result()
		return err == nil && n == 0
	})
	acc := testutil.Tally(ids(testutil.ReadJSONLines(t, out)), 0, n)
	if len(acc.Missing) > 0 || acc.Duplicates > 0 {
		t.Fatalf("%d lost (first %v), %d twice", len(acc.Missing), first(acc.Missing), acc.Duplicates)
	}
}

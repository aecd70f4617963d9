//go:build linux

package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/internal/testing/testutil"
)

// A kill -9 while the loop waits for a slow Sync (its group commit before
// the trim) loses nothing: what was written but not yet covered by a Sync
// stays at the head for the next holder, at most the batches a drain
// leaves untrimmed (pump.UntrimmedBatches) written twice.
func TestKill9DuringASlowSyncLosesNothing(t *testing.T) {
	testutil.NeedsBinary(t)
	const n = 20_000
	r := testutil.StartRedis(t)
	poison := seedWithPoison(t, r, 0, n)
	a, outA := instance(t, r, ", delay_sync: 400ms")
	a.WaitOutput(30*time.Second, "holding the drain lease")
	testutil.Eventually(t, time.Minute, "the holder wrote some batches", func() bool {
		return testutil.CountLines(t, outA) >= 3*faultBatch
	})
	a.Signal(syscall.SIGKILL)
	a.Wait(10 * time.Second)
	killedAt := testutil.CountLines(t, outA)
	left := listLen(t, r, key)

	b, outB := instance(t, r, "")
	b.WaitOutput(30*time.Second, "holding the drain lease")
	testutil.Eventually(t, 2*time.Minute, "the rest drained", func() bool { return listLen(t, r, key) == 0 })
	b.Signal(syscall.SIGTERM)
	if code := b.Wait(time.Minute); code != 0 {
		t.Fatalf("next holder exit %d\n%s", code, b.Output())
	}
	dups := account(t, r, n, poison, outA, outB)
	if dups > crashWindow {
		t.Errorf("%d duplicates: more than the window a crash can leave un-trimmed (%d)", dups, crashWindow)
	}
	if strings.Contains(a.Output(), "sync failed") {
		t.Errorf("a slow sync was reported as failed:\n%s", a.Output())
	}
	t.Logf("seeded %d (+%d poison); %d written before kill -9 with %d elements at the head, %d duplicated after it, 0 lost",
		n, len(poison), killedAt, left, dups)
}

//go:build linux

package main

// redis.wait-replicas across a Sentinel failover: the trims the old master
// applied but its replica had not received are undone by the promotion, and
// their batches are delivered again. WAIT after each trim bounds them.

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pump"
)

// failoverDuplicates drains a backlog behind a sentinel, lets the replica
// lag and the master die mid-drain, and returns how many records were
// written twice (none may be missing), how many were written during the
// lag and how many trims the pump counted unreplicated.
func failoverDuplicates(t *testing.T, extra string) (dups, during, unreplicated int) {
	t.Helper()
	s := testutil.StartSentinel(t, "mymaster")
	c := s.Client()
	const total = 20000
	testutil.Seed(t, c, key, 0, total)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	d := testutil.WriteRedisConfig(t, "  master-name: mymaster\n  addrs: ["+s.Sentinel.Addr+"]\n"+extra,
		"  j:\n    type: faulty\n    meta: {path: "+out+", delay: 5ms}\n", fmt.Sprintf("batch-size: %d\nread-ahead: %d\n", waitBatch, waitReadAhead))
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	testutil.Eventually(t, time.Minute, "the drain under way", func() bool { return testutil.CountLines(t, out) >= 3000 })
	// The replica falls behind (stopped for three seconds: the length of
	// the lag is the scenario, not a wait for a condition), and the master
	// dies meanwhile: the sentinel promotes a replica that missed the
	// trims of those seconds.
	rc := redis.NewClient(&redis.Options{Addr: s.Replica.Addr})
	defer rc.Close()
	pid, err := strconv.Atoi(infoField(rc.Info(ctx, "server").Val(), "process_id"))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// Producers go on writing (to another key here): 16 MB fill the
	// kernel's socket buffer to the stopped replica, so what follows waits
	// in the master's memory and dies with it, as over a congested link.
	mc := redis.NewClient(&redis.Options{Addr: s.Master.Addr})
	defer mc.Close()
	filler := strings.Repeat("x", 1<<20)
	for i := 0; i < 16; i++ {
		if err := mc.Set(ctx, "filler-"+strconv.Itoa(i), filler, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	before := testutil.CountLines(t, out)
	time.Sleep(3 * time.Second)
	during = testutil.CountLines(t, out) - before
	old := s.Master.Addr
	s.Master.Kill()
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, time.Minute, "the replica promoted", func() bool { return s.MasterAddr() != old })
	testutil.Eventually(t, 2*time.Minute, "the backlog drained from the new master", func() bool {
		n, err := c.LLen(ctx, key).Result()
		return err == nil && n == 0
	})
	unreplicated = int(scrape(t, d.HealthAddr)["pump_trims_unreplicated_total"].get("source=" + analytics.DefaultKey))
	topoStop(t, p)
	acc := testutil.Tally(ids(testutil.ReadJSONLines(t, out)), 0, total)
	if len(acc.Missing) > 0 {
		t.Fatalf("%d records missing after the failover (first %v)", len(acc.Missing), first(acc.Missing))
	}
	return acc.Duplicates, during, unreplicated
}

const (
	waitBatch     = 100
	waitReadAhead = 4
)

func TestWaitReplicasBoundsWhatAFailoverDeliversAgain(t *testing.T) {
	testutil.NeedsBinary(t)
	t.Run("wait-replicas 1", func(t *testing.T) {
		dups, during, unreplicated := failoverDuplicates(t, "  wait-replicas: 1\n  wait-timeout: 200ms\n")
		t.Logf("with wait-replicas 1: %d records delivered twice, %d written during the lag, %d trims unreplicated", dups, during, unreplicated)
		if unreplicated == 0 {
			t.Error("no trim counted unreplicated while the replica was stopped")
		}
		// The drain never stops for the replica: during the lag one trim
		// per wait-timeout goes through unacknowledged. Beyond those, only
		// what was written and not yet trimmed (pump.UntrimmedBatches,
		// and the one being trimmed) is delivered again.
		if bound := during + waitBatch*(pump.UntrimmedBatches(waitReadAhead)+1); dups > bound {
			t.Errorf("%d records delivered twice, want at most %d", dups, bound)
		}
	})
	t.Run("without", func(t *testing.T) {
		dups, during, _ := failoverDuplicates(t, "")
		t.Logf("without wait-replicas: %d records delivered twice, %d written during the lag (measured, not asserted)", dups, during)
	})
}

// infoField is one field of an INFO answer.
func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

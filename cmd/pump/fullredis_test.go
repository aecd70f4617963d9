//go:build linux

package main

// A full Redis: maxmemory reached with noeviction, producers refused. The
// pump must still take its lease and drain it, dead letters and parked
// records included: each trim frees more than it adds.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pumpd/pump/internal/testing/testutil"
)

func TestFullRedisIsDrainedWithDeadLettersAndParkedRecords(t *testing.T) {
	testutil.NeedsBinary(t)
	srv := testutil.StartRedisProcess(t, testutil.ProcessOptions{Name: "full redis-server",
		Args: []string{"--maxmemory", "2mb", "--maxmemory-policy", "noeviction"}})
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = c.Close() })

	// Fill it as producers do, one undecodable element per 100 records,
	// until Redis refuses an RPUSH.
	records, poison := 0, 0
	for {
		elem := testutil.EncodedRecord(t, records)
		if (records+poison)%100 == 99 {
			elem = []byte(fmt.Sprintf("poison %d \xff\x00", poison))
		}
		err := c.RPush(ctx, key, elem).Err()
		if redis.IsOOMError(err) {
			break
		}
		if err != nil {
			t.Fatalf("RPUSH: %v, want OOM", err)
		}
		if (records+poison)%100 == 99 {
			poison++
		} else {
			records++
		}
	}
	t.Logf("Redis full after %d records and %d poison elements", records, poison)

	out := filepath.Join(t.TempDir(), "out.jsonl")
	lateOut := filepath.Join(t.TempDir(), "late.jsonl")
	down := filepath.Join(t.TempDir(), "late-is-down")
	if err := os.WriteFile(down, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// "late" fails until down is removed: its share is parked, on the full
	// Redis, then replayed.
	pumps := "  j:\n    type: jsonl\n    meta: {path: " + out + "}\n" +
		"  late:\n    type: faulty\n    max-retry-time: 200ms\n    meta: {path: " + lateOut + ", fail_while_exists: " + down + "}\n"
	d := testutil.WriteRedisConfig(t, "  host: 127.0.0.1\n  port: "+strconv.Itoa(srv.Port)+"\n", pumps, "batch-size: 100\n")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	p.WaitOutput(time.Minute, "holding the drain lease")
	testutil.Eventually(t, time.Minute, "the full list drained", func() bool {
		l, err := c.LLen(ctx, key).Result()
		return err == nil && l == 0
	})
	testutil.Eventually(t, time.Minute, "every record in the jsonl file", func() bool {
		return testutil.CountLines(t, out) >= records
	})
	topoExactlyOnce(t, out, 0, records)
	if dead := topoLen(t, c, "{"+key+"}.dead"); dead != int64(poison) {
		t.Errorf("%d dead letters, want %d", dead, poison)
	}
	parked := "{" + key + "}.parked.late"
	if l := topoLen(t, c, parked); l != int64(records) {
		t.Errorf("%d records parked for the failing pump, want %d", l, records)
	}
	if code, body := topoReady(d); code != http.StatusOK {
		t.Errorf("/readyz = %d %q while draining a full Redis, want 200", code, body)
	}
	if err := os.Remove(down); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, time.Minute, "the parked records replayed", func() bool {
		return topoLen(t, c, parked) == 0
	})
	if got := testutil.CountLines(t, lateOut); got != records {
		t.Errorf("%d records replayed to the late pump, want %d", got, records)
	}
	if err := c.RPush(ctx, key, testutil.EncodedRecord(t, records)).Err(); err != nil {
		t.Errorf("a producer is still refused after the drain: %v", err)
	}
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}
	if strings.Contains(p.Output(), "redis unreachable") {
		t.Errorf("the pump called a full Redis unreachable")
	}
}

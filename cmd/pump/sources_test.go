//go:build linux

package main

// Several sources in one daemon: two lists and a stream, each with its own
// lease or group and its own dead and parked lists, into the pumps each
// names; and two daemons spreading two list sources between them.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pumpd/pump/internal/testing/testutil"
)

func TestOneDaemonDrainsTwoListsAndAStreamIntoThePumpsEachNames(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	dir := t.TempDir()
	all, onlyB := filepath.Join(dir, "all.jsonl"), filepath.Join(dir, "b.jsonl")
	d := testutil.WriteConfig(t, r.Port,
		"  all:\n    type: jsonl\n    meta: {path: "+all+"}\n  onlyb:\n    type: jsonl\n    meta: {path: "+onlyB+"}\n",
		"batch-size: 100\nsources:\n"+
			"  - {key: src-a, pumps: [all]}\n"+
			"  - {key: src-b}\n"+
			"  - {key: src-s, mode: streams, pumps: [all]}\n")
	testutil.Seed(t, r.Client(), "src-a", 0, 1000)
	testutil.Seed(t, r.Client(), "src-b", 1000, 2000)
	poison := []byte("poison \xff\x00")
	if err := r.Client().RPush(ctx, "src-b", poison).Err(); err != nil {
		t.Fatal(err)
	}
	pipe := r.Client().Pipeline()
	for i := 2000; i < 3000; i++ {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: "src-s", Values: []any{"data", testutil.EncodedRecord(t, i)}})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	testutil.Eventually(t, 2*time.Minute, "the three sources drained", func() bool {
		s, err := r.Client().XLen(ctx, "src-s").Result()
		return listLen(t, r, "src-a") == 0 && listLen(t, r, "src-b") == 0 && err == nil && s == 0
	})
	testutil.Eventually(t, time.Minute, "every record in the pumps", func() bool {
		return testutil.CountLines(t, all) >= 3000 && testutil.CountLines(t, onlyB) >= 1000
	})
	for _, c := range []struct {
		path     string
		from, to int
	}{{all, 0, 3000}, {onlyB, 1000, 2000}} {
		acc := testutil.Tally(ids(testutil.ReadJSONLines(t, c.path)), c.from, c.to)
		if len(acc.Missing) > 0 || acc.Duplicates > 0 || len(acc.Seen) != c.to-c.from {
			t.Errorf("%s: %d missing (first %v), %d twice, %d records, want %d..%d once each",
				filepath.Base(c.path), len(acc.Missing), first(acc.Missing), acc.Duplicates, len(acc.Seen), c.from, c.to)
		}
	}

	// The counts say which source they belong to; the pumps' once.
	m := scrape(t, d.HealthAddr)
	for _, c := range []struct {
		metric, labels string
		want           float64
	}{
		{"pump_records_read_total", "source=src-a", 1000},
		{"pump_records_read_total", "source=src-b", 1001},
		{"pump_records_read_total", "source=src-s", 1000},
		{"pump_records_undecodable_total", "source=src-b", 1},
		{"pump_records_undecodable_total", "source=src-a", 0},
		{"pump_backlog_records", "list=dead,pump=,source=src-b", 1},
		{"pump_backlog_records", "list=parked,pump=onlyb,source=src-b", 0},
		{"pump_lease_holder", "source=src-a", 1},
		{"pump_lease_holder", "source=src-b", 1},
		{"pump_records_written_total", "pump=all", 3000},
		{"pump_records_written_total", "pump=onlyb", 1000},
	} {
		if got := m[c.metric].get(c.labels); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.metric, c.labels, got, c.want)
		}
	}
	if got := m["pump_backlog_records"].get("list=parked,pump=onlyb,source=src-a"); got != -1 {
		t.Errorf("src-a does not feed onlyb, yet its parked list is exported (%v)", got)
	}

	// /status has one entry per source, with its own dead letters.
	var s statusReport
	resp, err := http.Get("http://" + d.HealthAddr + "/status")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&s)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, src := range s.Sources {
		dead := int64(-1)
		if src.Dead != nil {
			dead = *src.Dead
		}
		seen = append(seen, fmt.Sprintf("%s %s dead=%d", src.Key, src.Mode, dead))
	}
	if got, want := strings.Join(seen, "; "), "src-a list dead=0; src-b list dead=1; src-s streams dead=0"; got != want {
		t.Errorf("/status sources: %s\nwant %s", got, want)
	}

	// pump dlq needs to be told which source's letters.
	if code, out := testutil.RunPump(t, nil, "dlq", "list", "-c", d.ConfigPath); code != 2 ||
		!strings.Contains(out, "--source: the configuration drains 3 sources (src-a, src-b, src-s): name one") {
		t.Errorf("dlq list without --source: exit %d\n%s", code, out)
	}
	if code, out := testutil.RunPump(t, nil, "dlq", "list", "--source", "src-b", "-c", d.ConfigPath); code != 0 ||
		!strings.Contains(out, "1 dead letters in {src-b}.dead") {
		t.Errorf("dlq list --source src-b: exit %d\n%s", code, out)
	}
	if code, out := testutil.RunPump(t, nil, "dlq", "list", "--source", "src-x", "-c", d.ConfigPath); code != 2 ||
		!strings.Contains(out, `--source: no source "src-x"`) {
		t.Errorf("dlq list --source src-x: exit %d\n%s", code, out)
	}

	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit %d after SIGTERM\n%s", code, p.Output())
	}
	if !strings.Contains(p.Output(), `"source": "src-b"`) {
		t.Error("the log does not say which source a line is about")
	}
}

// Two daemons and two list sources: each ends up holding one lease, also
// when one was up alone first and took both; a kill -9'd one's lease is
// taken over by the other, and nothing is lost or written twice.
func TestTwoDaemonsSpreadTwoListSourcesAndTakeOverAKilledOnes(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	dir := t.TempDir()
	start := func(name string) (*testutil.Proc, testutil.Daemon, string) {
		out := filepath.Join(dir, name+".jsonl")
		d := testutil.WriteConfig(t, r.Port, "  j:\n    type: jsonl\n    meta: {path: "+out+"}\n",
			"instance-id: "+name+"\nsources:\n  - {key: src-a}\n  - {key: src-b}\n")
		p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
		p.WaitOutput(time.Minute, "serving probes")
		return p, d, out
	}
	held := func(d testutil.Daemon) int {
		m := scrape(t, d.HealthAddr)["pump_lease_holder"]
		return int(max(0, m.get("source=src-a")) + max(0, m.get("source=src-b")))
	}
	pa, da, outA := start("a")
	testutil.Eventually(t, time.Minute, "a, alone, holding both leases", func() bool { return held(da) == 2 })
	pb, db, outB := start("b")
	testutil.Eventually(t, 2*time.Minute, "a giving one lease to b", func() bool { return held(da) == 1 && held(db) == 1 })

	testutil.Seed(t, r.Client(), "src-a", 0, 500)
	testutil.Seed(t, r.Client(), "src-b", 500, 1000)
	testutil.Eventually(t, time.Minute, "both drained", func() bool {
		return listLen(t, r, "src-a") == 0 && listLen(t, r, "src-b") == 0
	})
	if a, b := testutil.CountLines(t, outA), testutil.CountLines(t, outB); a == 0 || b == 0 {
		t.Errorf("a wrote %d records, b %d: each should have drained its source", a, b)
	}

	pb.Kill()
	testutil.Eventually(t, 2*time.Minute, "a taking b's lease over", func() bool { return held(da) == 2 })
	testutil.Seed(t, r.Client(), "src-a", 1000, 1500)
	testutil.Seed(t, r.Client(), "src-b", 1500, 2000)
	testutil.Eventually(t, time.Minute, "both drained again", func() bool {
		return listLen(t, r, "src-a") == 0 && listLen(t, r, "src-b") == 0
	})
	testutil.Eventually(t, time.Minute, "every record written", func() bool {
		return testutil.CountLines(t, outA)+testutil.CountLines(t, outB) >= 2000
	})
	acc := testutil.Tally(append(ids(testutil.ReadJSONLines(t, outA)), ids(testutil.ReadJSONLines(t, outB))...), 0, 2000)
	if len(acc.Missing) > 0 || acc.Duplicates > 0 {
		t.Errorf("%d lost (first %v), %d twice", len(acc.Missing), first(acc.Missing), acc.Duplicates)
	}
	pa.Signal(syscall.SIGTERM)
	if code := pa.Wait(time.Minute); code != 0 {
		t.Fatalf("exit %d after SIGTERM\n%s", code, pa.Output())
	}
}

//go:build linux

package main

// Fault injection: kill -9, SIGSTOP, Redis restarts and several instances,
// each ending with an exact account of every seeded record.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pump"
)

const (
	faultBatch     = 200
	faultReadAhead = 4
)

// crashWindow is the most records a crash leaves written and untrimmed,
// for the next holder to write again.
var crashWindow = faultBatch * pump.UntrimmedBatches(faultReadAhead)

// seedWithPoison seeds records from..to-1 with one undecodable element
// after every 100 records (1%), and returns the poison elements.
func seedWithPoison(t *testing.T, r *testutil.Redis, from, to int) [][]byte {
	t.Helper()
	var poison [][]byte
	for start := from; start < to; start += 100 {
		testutil.Seed(t, r.Client(), key, start, min(start+100, to))
		p := []byte(fmt.Sprintf("poison %d \xff\x00", start))
		poison = append(poison, p)
		if err := r.Client().RPush(ctx, key, p).Err(); err != nil {
			t.Fatal(err)
		}
	}
	return poison
}

// instance starts a pump writing through the faulty sink to its own file.
func instance(t *testing.T, r *testutil.Redis, meta string) (*testutil.Proc, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.jsonl")
	d := testutil.WriteConfig(t, r.Port, "  sink:\n    type: faulty\n    meta: {path: "+out+meta+"}\n",
		fmt.Sprintf("batch-size: %d\nread-ahead: %d\n", faultBatch, faultReadAhead))
	return testutil.StartPump(t, nil, "-c", d.ConfigPath), out
}

// account checks that every record from 0..n-1 was delivered to one of the
// outputs (none still in Redis), that every poison element is in the dead
// list exactly once, and returns how many records were delivered twice.
func account(t *testing.T, r *testutil.Redis, n int, poison [][]byte, outputs ...string) int {
	t.Helper()
	var all []string
	for _, o := range outputs {
		all = append(all, ids(testutil.ReadJSONLines(t, o))...)
	}
	acc := testutil.Tally(all, 0, n)
	if len(acc.Missing) > 0 {
		t.Fatalf("%d of %d records lost (first %v)", len(acc.Missing), n, first(acc.Missing))
	}
	dead, err := r.Client().LRange(ctx, "{"+key+"}.dead", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range dead {
		env, err := pump.DecodeDeadLetter([]byte(e))
		if err != nil {
			t.Fatalf("dead letter not an envelope: %v", err)
		}
		seen[string(env.Raw)]++
	}
	for _, p := range poison {
		if seen[string(p)] != 1 {
			t.Errorf("poison %q is %d times in the dead list, want once", p, seen[string(p)])
		}
	}
	if len(dead) != len(poison) {
		t.Errorf("%d dead letters, want %d", len(dead), len(poison))
	}
	if left := listLen(t, r, key); left != 0 {
		t.Errorf("%d elements still in the list", left)
	}
	return acc.Duplicates
}

func TestKill9AtEachPointOfADrainLosesNothing(t *testing.T) {
	testutil.NeedsBinary(t)
	const n = 20_000
	for _, tc := range []struct {
		name    string
		meta    string // faulty sink: where it stalls
		standby bool
	}{
		{"before write", ", delay: 300ms", false},
		{"during write", ", delay: 100ms, delay_after: 100ms", false},
		{"after write before trim", ", delay_after: 500ms", false},
		{"after write before trim with a standby taking over", ", delay_after: 500ms", true},
		{"before write with a standby taking over", ", delay: 300ms", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testutil.StartRedis(t)
			poison := seedWithPoison(t, r, 0, n)
			a, outA := instance(t, r, tc.meta)
			a.WaitOutput(30*time.Second, "holding the drain lease")
			var outB string
			var b *testutil.Proc
			if tc.standby {
				b, outB = instance(t, r, tc.meta)
				b.WaitOutput(30*time.Second, "standing by")
			}
			testutil.Eventually(t, time.Minute, "the holder wrote some batches", func() bool {
				return testutil.CountLines(t, outA) >= 3*faultBatch
			})
			a.Signal(syscall.SIGKILL)
			a.Wait(10 * time.Second)
			killedAt := testutil.CountLines(t, outA)

			// The next holder: the standby within one lease TTL, or a restart.
			next := b
			if next == nil {
				next, outB = instance(t, r, "")
			}
			next.WaitOutput(30*time.Second, "holding the drain lease")
			testutil.Eventually(t, 2*time.Minute, "the rest drained", func() bool { return listLen(t, r, key) == 0 })
			next.Signal(syscall.SIGTERM)
			if code := next.Wait(time.Minute); code != 0 {
				t.Fatalf("next holder exit %d", code)
			}
			dups := account(t, r, n, poison, outA, outB)
			if dups > crashWindow {
				t.Errorf("%d duplicates: more than the window a crash can leave un-trimmed (%d)", dups, crashWindow)
			}
			t.Logf("seeded %d (+%d poison); %d written before kill -9, %d duplicated after it, %d dead, 0 lost",
				n, len(poison), killedAt, dups, len(poison))
		})
	}
}

func TestPausedHolderFindsItsTrimRefusedAndStandsDown(t *testing.T) {
	testutil.NeedsBinary(t)
	const n = 10_000
	r := testutil.StartRedis(t)
	poison := seedWithPoison(t, r, 0, n)
	a, outA := instance(t, r, ", delay_after: 300ms")
	a.WaitOutput(30*time.Second, "holding the drain lease")
	b, outB := instance(t, r, ", delay_after: 50ms")
	b.WaitOutput(30*time.Second, "standing by")
	testutil.Eventually(t, time.Minute, "the holder wrote some batches", func() bool {
		return testutil.CountLines(t, outA) >= 2*faultBatch
	})
	a.Signal(syscall.SIGSTOP)
	b.WaitOutput(30*time.Second, "holding the drain lease") // the lease lapsed: TTL 2s
	testutil.Eventually(t, time.Minute, "the new holder is draining", func() bool {
		return testutil.CountLines(t, outB) >= faultBatch
	})
	a.Signal(syscall.SIGCONT)
	a.WaitOutput(30*time.Second, "lost the drain lease")
	testutil.Eventually(t, 2*time.Minute, "the rest drained", func() bool { return listLen(t, r, key) == 0 })
	for _, p := range []*testutil.Proc{a, b} {
		p.Signal(syscall.SIGTERM)
		if code := p.Wait(time.Minute); code != 0 {
			t.Fatalf("exit %d", code)
		}
	}
	dups := account(t, r, n, poison, outA, outB)
	t.Logf("seeded %d; the paused holder was replaced; %d delivered twice, 0 lost", n, dups)
}

func TestRedisRestartMidDrainLosesNothing(t *testing.T) {
	testutil.NeedsBinary(t)
	const n = 20_000
	r := testutil.StartRedis(t, testutil.RedisOptions{Persist: true})
	poison := seedWithPoison(t, r, 0, n)
	p, out := instance(t, r, ", delay: 20ms")
	testutil.Eventually(t, time.Minute, "draining", func() bool { return testutil.CountLines(t, out) >= 2*faultBatch })
	r.Restart()
	testutil.Eventually(t, time.Minute, "draining after the restart", func() bool {
		return testutil.CountLines(t, out) >= n/2
	})
	// Then a longer outage, past the lease TTL.
	r.Kill()
	stopped := time.Now()
	testutil.Eventually(t, 30*time.Second, "the outage seen", func() bool { return time.Since(stopped) > 3*time.Second })
	r.Start()
	testutil.Eventually(t, 2*time.Minute, "drained", func() bool { return listLen(t, r, key) == 0 })
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit %d", code)
	}
	dups := account(t, r, n, poison, out)
	t.Logf("seeded %d; two Redis restarts mid-drain; %d delivered twice, 0 lost", n, dups)
}

func TestThreeInstancesTakeOverInTurnAsEachHolderIsKilled(t *testing.T) {
	testutil.NeedsBinary(t)
	const n = 30_000
	r := testutil.StartRedis(t)
	poison := seedWithPoison(t, r, 0, n)
	type inst struct {
		p   *testutil.Proc
		out string
	}
	var all []inst
	for i := 0; i < 3; i++ {
		p, out := instance(t, r, ", delay: 20ms")
		all = append(all, inst{p, out})
	}
	var outs []string
	for _, in := range all {
		outs = append(outs, in.out)
	}
	holder := func() int {
		for i, in := range all {
			if !in.p.Exited() && testutil.CountLines(t, in.out) > 0 && hasLease(t, r, in.p) {
				return i
			}
		}
		return -1
	}
	for round := 0; round < 2; round++ {
		var h int
		testutil.Eventually(t, time.Minute, "a holder writing", func() bool { h = holder(); return h >= 0 })
		written := testutil.CountLines(t, all[h].out)
		testutil.Eventually(t, time.Minute, "holder progress", func() bool {
			return testutil.CountLines(t, all[h].out) >= written+2*faultBatch
		})
		all[h].p.Signal(syscall.SIGKILL)
		all[h].p.Wait(10 * time.Second)
		t.Logf("round %d: killed holder %d", round, h)
	}
	testutil.Eventually(t, 2*time.Minute, "the last instance drained the rest", func() bool { return listLen(t, r, key) == 0 })
	for _, in := range all {
		if !in.p.Exited() {
			in.p.Signal(syscall.SIGTERM)
			if code := in.p.Wait(time.Minute); code != 0 {
				t.Fatalf("exit %d", code)
			}
		}
	}
	dups := account(t, r, n, poison, outs...)
	t.Logf("seeded %d; holders killed twice; %d delivered twice, 0 lost", n, dups)
}

// hasLease reports whether p's instance holds the lease (its pid is in the
// lease value, host-pid/nonce).
func hasLease(t *testing.T, r *testutil.Redis, p *testutil.Proc) bool {
	v, _ := r.Client().Get(ctx, "{"+key+"}.lease").Result()
	return v != "" && containsPid(v, p.Cmd.Process.Pid)
}

func containsPid(lease string, pid int) bool {
	return strings.Contains(lease, fmt.Sprintf("-%d/", pid))
}

func TestShutdownTimeoutLeavesUnfinishedBatchesAtTheHeadAndReleasesTheLease(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	testutil.Seed(t, r.Client(), key, 0, 1000)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	d := testutil.WriteConfig(t, r.Port, "  stuck:\n    type: faulty\n    timeout: 600\n    meta: {path: "+out+", delay: 10m}\n", "shutdown-timeout: 3s\n")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	p.WaitOutput(30*time.Second, "holding the drain lease")
	p.Signal(syscall.SIGTERM)
	// Cut short by the timeout: exit 1 tells it from a clean stop.
	if code := p.Wait(30 * time.Second); code != 1 {
		t.Fatalf("exit %d after the shutdown timeout, want 1", code)
	}
	if got := listLen(t, r, key); got != 1000 {
		t.Fatalf("%d records left, want all 1000 at the head", got)
	}
	if v, _ := r.Client().Get(ctx, "{"+key+"}.lease").Result(); v != "" {
		t.Fatalf("lease still held by %q: a standby would wait a TTL", v)
	}
}

func TestASinkDownAtStartDoesNotStopTheOthersAndCatchesUp(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	dir := t.TempDir()
	port := testutil.FreePort(t) // nothing listens here yet
	good := filepath.Join(dir, "good.jsonl")
	pumps := "  good:\n    type: jsonl\n    meta: {path: " + good + "}\n" +
		fmt.Sprintf("  late:\n    type: syslog\n    max-retry-time: 500ms\n    meta: {transport: tcp, network_addr: \"127.0.0.1:%d\"}\n", port)
	d := testutil.WriteConfig(t, r.Port, pumps, "")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	p.WaitOutput(30*time.Second, "pump could not start")
	testutil.Seed(t, r.Client(), key, 0, 2000)
	parked := "{" + key + "}.parked.late"
	testutil.Eventually(t, time.Minute, "the healthy pump drained everything, the late one's share parked", func() bool {
		return len(testutil.ReadJSONLines(t, good)) == 2000 && listLen(t, r, parked) == 2000
	})

	// The syslog receiver comes up: the pump starts and the parked records
	// are replayed to it.
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var mu sync.Mutex
	received := map[string]int{}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				// RFC 6587 octet counting: "LEN SP MSG", back to back.
				br := bufio.NewReader(c)
				for {
					var n int
					if _, err := fmt.Fscanf(br, "%d ", &n); err != nil {
						return
					}
					msg := make([]byte, n)
					if _, err := io.ReadFull(br, msg); err != nil {
						return
					}
					if _, rest, ok := strings.Cut(string(msg), "id="); ok {
						id, _, _ := strings.Cut(rest, `"`)
						mu.Lock()
						received[id]++
						mu.Unlock()
					}
				}
			}(conn)
		}
	}()
	testutil.Eventually(t, time.Minute, "parked records replayed to the late pump", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return listLen(t, r, parked) == 0 && len(received) == 2000
	})
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

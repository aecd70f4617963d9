//go:build linux

package main

// The faults of "never lose, never stall" that operators meet: a hung
// sink, refused parked records, a write stuck in the kernel, a replay or a
// reload around a stop. Each runs the real binary against its own
// redis-server.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
)

// parkFor puts records from..to-1 in pump's parked list, as an earlier
// outage of that pump would have.
func parkFor(t *testing.T, r *testutil.Redis, pump string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := r.Client().RPush(ctx, "{"+key+"}.parked."+pump, testutil.EncodedRecord(t, i)).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// A sink that accepts connections and never answers must cost the other
// pumps nothing: while it is down its share is parked at once and only the
// parked replay probes it. Before, every batch waited out the write
// timeout, so the jsonl pump beside it moved one batch per timeout (200
// batches x 3 s here, ten minutes, against a three-minute deadline).
func TestAHungSinkDoesNotThrottleTheOthers(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-release:
		case <-req.Context().Done():
		}
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(release) })
	out := filepath.Join(t.TempDir(), "out.jsonl")
	pumps := "  j:\n    type: jsonl\n    meta: {path: " + out + "}\n" +
		"  h:\n    type: http\n    timeout: 3\n    max-retry-time: 1s\n    meta: {url: \"" + hung.URL + "\", max_retries: 0}\n"
	d := testutil.WriteConfig(t, r.Port, pumps, "batch-size: 100\n")
	testutil.Seed(t, r.Client(), key, 0, 20000)
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	testutil.Eventually(t, 3*time.Minute, "the jsonl pump wrote all 20,000 records beside the hung one", func() bool {
		return testutil.CountLines(t, out) >= 20000
	})
	testutil.Eventually(t, time.Minute, "the hung pump's share is parked, all of it", func() bool {
		return listLen(t, r, key) == 0 && listLen(t, r, "{"+key+"}.parked.h") == 20000
	})
	acc := testutil.Tally(ids(testutil.ReadJSONLines(t, out)), 0, 20000)
	if len(acc.Missing) > 0 || acc.Duplicates > 0 {
		t.Fatalf("jsonl: %d missing, %d duplicated", len(acc.Missing), acc.Duplicates)
	}
	p.Signal(syscall.SIGTERM)
	p.Wait(time.Minute)
}

// A parked list whose records the pump partly refuses drains: what the
// pump takes is written once, what it refuses goes to the dead list with
// the reason. Before, a refusal counted as "still failing": the list never
// drained and the accepted records were written again at every tick.
func TestRefusedParkedRecordsGoDeadAndTheRestIsWrittenOnce(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	parkFor(t, r, "f", 0, 600)
	d := testutil.WriteConfig(t, r.Port, "  f:\n    type: faulty\n    meta: {path: "+out+", reject_username: user-3}\n", "batch-size: 100\n")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	refused := 0
	for i := 0; i < 600; i++ {
		if testutil.MakeRecord(i).Username == "user-3" {
			refused++
		}
	}
	testutil.Eventually(t, 2*time.Minute, "the parked list drained", func() bool {
		return listLen(t, r, "{"+key+"}.parked.f") == 0
	})
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit %d", code)
	}
	got := ids(testutil.ReadJSONLines(t, out))
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	if len(got) != 600-refused || len(seen) != 600-refused {
		t.Fatalf("%d lines, %d distinct records written; want each of the %d accepted once", len(got), len(seen), 600-refused)
	}
	if n := listLen(t, r, "{"+key+"}.dead"); n != int64(refused) {
		t.Fatalf("%d dead letters, want the %d refused", n, refused)
	}
	if c := strings.Count(p.Output(), "parked records not replayed yet"); c > 0 {
		t.Fatalf("a refusal was logged %d times as a failing pump", c)
	}
}

// A write stuck in the kernel (a FIFO nobody reads, like a hung NFS
// mount) ignores its context. The stop must still end within the shutdown
// timeout, say it was cut short (exit 1), release the lease and leave what
// was not written at the head. Before, the daemon was still running a
// minute after SIGTERM with shutdown-timeout 5s.
func TestAWriteStuckInTheKernelDoesNotHoldTheStop(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	fifo := filepath.Join(t.TempDir(), "out.jsonl")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// A reader that never reads: the writer fills the pipe and blocks.
	rfd, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(rfd) })
	const total = 5000
	testutil.Seed(t, r.Client(), key, 0, total)
	d := testutil.WriteConfig(t, r.Port, "  j:\n    type: jsonl\n    timeout: 2\n    meta: {path: "+fifo+", fsync: false}\n",
		"batch-size: 100\nshutdown-timeout: 5s\n")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	testutil.Eventually(t, time.Minute, "the pipe is full and the write blocked", func() bool {
		n, err := unix.IoctlGetInt(rfd, unix.TIOCINQ) // FIONREAD
		return err == nil && n >= 60000
	})
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 1 {
		t.Fatalf("exit %d after a stop cut by the shutdown timeout, want 1\n%s", code, p.Output())
	}
	if v, _ := r.Client().Get(ctx, "{"+key+"}.lease").Result(); v != "" {
		t.Fatalf("lease still held by %q", v)
	}
	// Nothing lost: every record is in the pipe, at the head or parked.
	var piped bytes.Buffer
	buf := make([]byte, 1<<16)
	for {
		n, err := unix.Read(rfd, buf)
		if n <= 0 || err != nil {
			break
		}
		piped.Write(buf[:n])
	}
	have := map[string]bool{}
	for _, line := range bytes.Split(piped.Bytes(), []byte("\n")) {
		var rec analytics.Record
		if json.Unmarshal(line, &rec) == nil {
			have[testutil.IDOf(rec)] = true
		}
	}
	inPipe := len(have)
	for _, list := range []string{key, "{" + key + "}.parked.j"} {
		for _, id := range idsInList(t, r, list) {
			have[id] = true
		}
	}
	for i := 0; i < total; i++ {
		if !have[testutil.RecordID(i)] {
			t.Fatalf("record %d lost (%d in the pipe, %d at the head)", i, inPipe, listLen(t, r, key))
		}
	}
}

// The parked replay stops reading at the stop signal like the drain: only
// what is in flight is finished. Before, it went on to the end of the
// parked list (2,800 more records written after the signal here).
func TestTheParkedReplayStopsAtTheSignal(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	parkFor(t, r, "f", 0, 3000)
	d := testutil.WriteConfig(t, r.Port, "  f:\n    type: faulty\n    meta: {path: "+out+", delay: 200ms}\n", "batch-size: 100\n")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	p.WaitOutput(time.Minute, "replayed parked records")
	before := testutil.CountLines(t, out)
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit %d", code)
	}
	after := testutil.CountLines(t, out)
	if after-before > 200 {
		t.Fatalf("%d records written after the stop signal, want at most the two batches in flight (200)", after-before)
	}
	if left := listLen(t, r, "{"+key+"}.parked.f"); int(left)+after < 3000 {
		t.Fatalf("%d parked left and %d written: records lost", left, after)
	}
}

// A reload keeps the drain lease: a standby cannot take over on
// "systemctl reload". Before, each reload released and took it again.
func TestAReloadKeepsTheLease(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	d := testutil.WriteConfig(t, r.Port, "  j:\n    type: jsonl\n    meta: {path: "+out+"}\n", "")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	p.WaitOutput(time.Minute, "holding the drain lease")
	for i := 1; i <= 3; i++ {
		p.Signal(syscall.SIGHUP)
		testutil.Eventually(t, time.Minute, fmt.Sprintf("reload %d done", i), func() bool {
			return strings.Count(p.Output(), "configuration reloaded") >= i
		})
	}
	testutil.Seed(t, r.Client(), key, 0, 500)
	testutil.Eventually(t, time.Minute, "records drained after the reloads", func() bool { return listLen(t, r, key) == 0 })
	p.Signal(syscall.SIGTERM)
	p.Wait(time.Minute)
	if n := strings.Count(p.Output(), "holding the drain lease"); n != 1 {
		t.Fatalf("the lease was taken %d times over three reloads, want once", n)
	}
	if n := testutil.CountLines(t, out); n != 500 {
		t.Fatalf("%d lines, want 500", n)
	}
}

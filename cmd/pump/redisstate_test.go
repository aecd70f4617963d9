//go:build linux

package main

// What the pump says about a failing Redis: the condition by its name in
// the log (once, when it begins), in readiness and in pump_redis_state,
// not "unreachable" for everything.

import (
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
)

func TestAReplicasAddressIsReportedAsReadOnlyOnceNotAsUnreachable(t *testing.T) {
	testutil.NeedsBinary(t)
	master := testutil.StartRedisProcess(t, testutil.ProcessOptions{Name: "master"})
	replica := testutil.StartRedisProcess(t, testutil.ProcessOptions{Name: "replica",
		Args: []string{"--replicaof", "127.0.0.1", strconv.Itoa(master.Port)}})
	out := filepath.Join(t.TempDir(), "out.jsonl")
	d := testutil.WriteRedisConfig(t, "  host: 127.0.0.1\n  port: "+strconv.Itoa(replica.Port)+"\n", topoJSONL(out), "")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	const begins = "redis refuses writes as a read-only replica"
	p.WaitOutput(30*time.Second, begins)
	testutil.Eventually(t, 10*time.Second, "/readyz naming the read-only replica", func() bool {
		code, body := topoReady(d)
		return code == http.StatusServiceUnavailable && strings.Contains(body, "redis read-only")
	})
	testutil.Eventually(t, 10*time.Second, "pump_redis_state{state=readonly} 1", func() bool {
		m := scrape(t, d.HealthAddr)["pump_redis_state"]
		return m.get("source="+analytics.DefaultKey+",state=readonly") == 1 && m.get("source="+analytics.DefaultKey+",state=ok") == 0
	})
	// The pings succeed meanwhile (reads work on a replica): the condition
	// must hold through them and through ten refused lease attempts, and be
	// logged once.
	rc := redis.NewClient(&redis.Options{Addr: replica.Addr})
	defer rc.Close()
	refusals := regexp.MustCompile(`errorstat_READONLY:count=(\d+)`)
	testutil.Eventually(t, time.Minute, "ten lease attempts refused by the replica", func() bool {
		m := refusals.FindStringSubmatch(rc.Info(ctx, "errorstats").Val())
		n := 0
		if m != nil {
			n, _ = strconv.Atoi(m[1])
		}
		return n >= 10
	})
	if code, body := topoReady(d); code != http.StatusServiceUnavailable || !strings.Contains(body, "redis read-only") {
		t.Errorf("/readyz = %d %q after the pings, want 503 naming the read-only replica", code, body)
	}
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}
	if n := strings.Count(p.Output(), begins); n != 1 {
		t.Errorf("%q logged %d times, want once", begins, n)
	}
	for _, s := range []string{"redis unreachable", "redis accepts writes again"} {
		if strings.Contains(p.Output(), s) {
			t.Errorf("the log says %q of a replica that never changed", s)
		}
	}
}

// redisRefused waits until the pump logs begins and its readiness probe
// says ready, and checks the log names the cause.
func redisRefused(t *testing.T, p *testutil.Proc, d testutil.Daemon, begins, ready, cause string) {
	t.Helper()
	p.WaitOutput(30*time.Second, begins)
	testutil.Eventually(t, 10*time.Second, "/readyz answering 503: "+ready, func() bool {
		code, body := topoReady(d)
		return code == http.StatusServiceUnavailable && strings.Contains(body, ready)
	})
	if !strings.Contains(p.Output(), cause) {
		t.Fatalf("the log does not name the cause %q:\n%s", cause, p.Output())
	}
}

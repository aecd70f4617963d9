//go:build linux

package main

// A pump whose sink cannot start: the start-up log and readiness say so.

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
)

func readyBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAPumpThatCannotStartIsNotReadyInTheLogAndNamedByReadyz(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	dir := t.TempDir()
	// A file where the sink's directory should be: no one can create the
	// sink's file under it, root included (the tests run as root, for whom
	// a directory's mode is no obstacle).
	blocker := filepath.Join(dir, "blocked")
	writeFile(t, blocker)
	good := filepath.Join(dir, "good.jsonl")
	pumps := "  good:\n    type: jsonl\n    meta: {path: " + good + "}\n" +
		"  bad:\n    type: jsonl\n    max-retry-time: 500ms\n    meta: {path: " + filepath.Join(blocker, "bad.jsonl") + "}\n"
	d := testutil.WriteConfig(t, r.Port, pumps, "")
	started := time.Now()
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)

	testutil.Eventually(t, time.Minute, "/readyz 200", func() bool { return testutil.HTTPStatus(d.ReadyURL()) == 200 })
	code, body := readyBody(t, d.ReadyURL())
	if code != 200 || !strings.HasPrefix(body, "ok; ") || !strings.Contains(body, "bad (failing)") || strings.Contains(body, "good") {
		t.Errorf("/readyz: %d %q, want 200 naming pump bad as failing, and not good", code, body)
	}
	out := p.Output()
	if !strings.Contains(out, "pump could not start") {
		t.Fatalf("no \"pump could not start\" line:\n%s", out)
	}
	var readyGood bool
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "pump ready") {
			continue
		}
		if strings.Contains(line, `"pump": "bad"`) {
			t.Errorf("pump bad did not start, yet the log says: %s", line)
		}
		readyGood = readyGood || strings.Contains(line, `"pump": "good"`)
	}
	if !readyGood {
		t.Errorf("no \"pump ready\" line for pump good:\n%s", out)
	}

	// It still drains: good writes, bad's share is parked, and the drain's
	// progress is exported.
	testutil.Seed(t, r.Client(), key, 0, 500)
	parked := "{" + key + "}.parked.bad"
	testutil.Eventually(t, time.Minute, "good wrote everything, bad's share parked", func() bool {
		return testutil.CountLines(t, good) == 500 && listLen(t, r, parked) == 500
	})
	if at := scrape(t, d.HealthAddr)["pump_last_progress_timestamp_seconds"].get("source=" + analytics.DefaultKey); at < float64(started.Unix()) {
		t.Errorf("pump_last_progress_timestamp_seconds = %v, want a time after the start (%d)", at, started.Unix())
	}

	// The directory can be made: the pump starts at its next write and
	// readiness no longer names it.
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(blocker, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 2*time.Minute, "bad started and its parked records replayed", func() bool {
		return listLen(t, r, parked) == 0
	})
	testutil.Eventually(t, time.Minute, "/readyz a plain ok", func() bool {
		code, body := readyBody(t, d.ReadyURL())
		return code == 200 && body == "ok\n"
	})
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

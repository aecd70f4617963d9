//go:build linux

package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/internal/testing/testutil"
)

func TestReloadSwapsPumpsWithRecordsFlowingAndRefusesABadFile(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name+".jsonl") }
	section := func(name, file string) string {
		return "  " + name + ":\n    type: jsonl\n    meta: {path: " + path(file) + "}\n"
	}
	d := testutil.WriteConfig(t, r.Port, section("a", "a1")+section("b", "b"), "batch-size: 100\n")
	original, err := os.ReadFile(d.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	p.WaitOutput(30*time.Second, "holding the drain lease")

	// A producer pushes records the whole time, until told to stop, but
	// never more than a backlog of 1,000 ahead of the pump: unbounded, on
	// a loaded machine it wrote millions while the reload waited, and the
	// test then spent minutes and gigabytes reading them back.
	var wg sync.WaitGroup
	var n int
	stopProducing := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stopProducing:
				return
			default:
			}
			if backlog, err := r.Client().LLen(ctx, key).Result(); err == nil && backlog < 1000 {
				testutil.Seed(t, r.Client(), key, n, n+100)
				n += 100
			}
			time.Sleep(10 * time.Millisecond) // pacing the producer, not waiting for a condition
		}
	}()
	testutil.Eventually(t, time.Minute, "records flowing to a", func() bool { return len(testutil.ReadJSONLines(t, path("a1"))) > 2000 })

	// a changes its file, b goes, c comes.
	next := strings.Replace(string(original), section("a", "a1")+section("b", "b"), section("a", "a2")+section("c", "c"), 1)
	if next == string(original) {
		t.Fatal("the test could not rewrite the pumps section")
	}
	if err := os.WriteFile(d.ConfigPath, []byte(next), 0o600); err != nil {
		t.Fatal(err)
	}
	p.Signal(syscall.SIGHUP)
	p.WaitOutput(30*time.Second, "configuration reloaded")
	testutil.Eventually(t, time.Minute, "records flowing to the new pumps", func() bool {
		return len(testutil.ReadJSONLines(t, path("a2"))) > 0 && len(testutil.ReadJSONLines(t, path("c"))) > 0
	})

	// A broken file is refused; the running configuration stays.
	if err := os.WriteFile(d.ConfigPath, []byte(next+"\nnot-a-key: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.Signal(syscall.SIGHUP)
	p.WaitOutput(30*time.Second, "reload refused")

	close(stopProducing)
	wg.Wait()
	t.Logf("%d records produced across two reloads", n)
	testutil.Eventually(t, 2*time.Minute, "drained", func() bool { return listLen(t, r, key) == 0 })
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit %d", code)
	}

	a := append(ids(testutil.ReadJSONLines(t, path("a1"))), ids(testutil.ReadJSONLines(t, path("a2")))...)
	acc := testutil.Tally(a, 0, n)
	if len(acc.Missing) > 0 || acc.Duplicates > 0 {
		t.Fatalf("pump a across the reload: %d missing, %d duplicated", len(acc.Missing), acc.Duplicates)
	}
	b, c := ids(testutil.ReadJSONLines(t, path("b"))), ids(testutil.ReadJSONLines(t, path("c")))
	if len(b)+len(c) != n {
		t.Errorf("b (before) has %d and c (after) %d: want %d together", len(b), len(c), n)
	}
	acc = testutil.Tally(append(b, c...), 0, n)
	if len(acc.Missing) > 0 || acc.Duplicates > 0 {
		t.Fatalf("b then c: %d missing, %d duplicated", len(acc.Missing), acc.Duplicates)
	}
	if !strings.Contains(p.Output(), `not-a-key: unknown key`) {
		t.Error("the refused reload does not name the bad key")
	}
}

func TestReloadOverHTTPBehindTheAdminToken(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	dir := t.TempDir()
	d := testutil.WriteConfig(t, r.Port, "  a:\n    type: jsonl\n    meta: {path: "+filepath.Join(dir, "a.jsonl")+"}\n",
		"server: {admin-routes: true, admin-auth: {type: bearer, token-env: PUMP_ADMIN_TOKEN}}\n")
	p := testutil.StartPump(t, []string{"PUMP_ADMIN_TOKEN=s3cret-token"}, "-c", d.ConfigPath)
	testutil.Eventually(t, 30*time.Second, "ready", func() bool { return testutil.HTTPStatus(d.ReadyURL()) == 200 })
	post := func(token string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+d.HealthAddr+"/-/reload", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := post(""); code != http.StatusUnauthorized {
		t.Fatalf("POST /-/reload without the token: %d, want 401", code)
	}
	if code, body := post("s3cret-token"); code != 200 || !strings.Contains(body, "reloaded") {
		t.Fatalf("POST /-/reload: %d %s", code, body)
	}
	orig, _ := os.ReadFile(d.ConfigPath)
	if err := os.WriteFile(d.ConfigPath, append(orig, []byte("\npurge-delay: -5\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := post("s3cret-token"); code != 400 || !strings.Contains(body, "purge-delay") {
		t.Fatalf("POST /-/reload with a bad file: %d %s, want 400 naming the key", code, body)
	}
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

//go:build linux

package main

// The admin routes through the real binary: off unless asked for, refused
// on the network without authentication, and /status and /debug/pprof/
// behind the admin authentication.

import (
	"encoding/json"
	"fmt"
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

// call does one request and returns the status and body.
func call(t *testing.T, method, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestAdminRoutesAreOffUnlessAskedFor(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	d := testutil.WriteConfig(t, r.Port, "  d: {type: dummy}\n", "")
	p := testutil.StartPump(t, nil, "run", "-c", d.ConfigPath)
	testutil.Eventually(t, time.Minute, "the pump ready", func() bool { return testutil.HTTPStatus(d.ReadyURL()) == 200 })
	base := "http://" + d.HealthAddr
	for _, route := range []struct{ method, path string }{{"POST", "/-/reload"}, {"GET", "/debug/pprof/"}} {
		if code, body := call(t, route.method, base+route.path, ""); code != http.StatusNotFound {
			t.Errorf("%s %s with the admin routes off: %d %s, want 404", route.method, route.path, code, body)
		}
	}
	p.WaitOutput(30*time.Second, "admin routes off (server.admin-routes serves POST /-/reload, server.pprof /debug/pprof/)")
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func TestAdminRoutesOnTheNetworkNeedAdminAuth(t *testing.T) {
	testutil.NeedsBinary(t)
	for _, tt := range []struct{ server, want string }{
		{"{admin-routes: true}", "server.admin-routes: would serve POST /-/reload to the network on 0.0.0.0:"},
		{"{pprof: true}", "server.pprof: would serve /debug/pprof/ to the network on 0.0.0.0:"},
	} {
		t.Run(tt.server, func(t *testing.T) {
			// No Redis: a bad configuration stops the pump before it connects.
			path := testutil.WriteFile(t, "pump.yaml", fmt.Sprintf("health-check-address: 0.0.0.0:%d\nredis: {port: %d}\nserver: %s\npumps: {d: {type: dummy}}\n",
				testutil.FreePort(t), testutil.FreePort(t), tt.server))
			for _, cmd := range []string{"run", "validate"} {
				code, out := testutil.RunPump(t, nil, cmd, "-c", path)
				if code != 2 || !strings.Contains(out, tt.want) {
					t.Errorf("pump %s: exit %d, want 2 with %q:\n%s", cmd, code, tt.want, out)
				}
			}
		})
	}
}

func TestStatusAndPprofBehindTheAdminToken(t *testing.T) {
	testutil.NeedsBinary(t)
	const token = "status-admin-token-42"
	r := testutil.StartRedis(t)
	dir := t.TempDir()
	broken := filepath.Join(dir, "sink-is-down")
	if err := os.WriteFile(broken, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d := testutil.WriteConfig(t, r.Port, fmt.Sprintf(`  d: {type: dummy}
  flaky:
    type: faulty
    max-retry-time: 1s
    meta: {path: %q, fail_while_exists: %q}
  down:
    type: influx
    meta: {address: "http://127.0.0.1:%d", database_name: iam}
`, filepath.Join(dir, "flaky.jsonl"), broken, testutil.FreePort(t)),
		"instance-id: status-test\nserver: {admin-routes: true, pprof: true, admin-auth: {type: bearer, token-env: PUMP_ADMIN_TOKEN}}\n")
	p := testutil.StartPump(t, []string{"PUMP_ADMIN_TOKEN=" + token}, "run", "-c", d.ConfigPath)
	testutil.Eventually(t, time.Minute, "the pump ready", func() bool { return testutil.HTTPStatus(d.ReadyURL()) == 200 })
	base := "http://" + d.HealthAddr
	p.WaitOutput(30*time.Second, `admin routes on	{"admin_routes": ["/-/reload", "/debug/pprof/"], "read_only_routes": ["/metrics", "GET /status"], "protected_by": "server.admin-auth bearer"}`)

	for _, path := range []string{"/status", "/debug/pprof/", "/debug/pprof/cmdline"} {
		if code, _ := call(t, "GET", base+path, ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s without the token: %d, want 401", path, code)
		}
		if code, _ := call(t, "GET", base+path, "wrong-"+token); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong token: %d, want 401", path, code)
		}
	}
	if code, body := call(t, "GET", base+"/debug/pprof/", token); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("GET /debug/pprof/ with the token: %d %.300s", code, body)
	}
	if code, body := call(t, "GET", base+"/debug/pprof/goroutine?debug=1", token); code != 200 || !strings.Contains(body, "goroutine profile") {
		t.Errorf("GET /debug/pprof/goroutine with the token: %d %.300s", code, body)
	}

	status := func() statusReport {
		t.Helper()
		code, body := call(t, "GET", base+"/status", token)
		if code != 200 {
			t.Fatalf("GET /status with the token: %d %s", code, body)
		}
		var s statusReport
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatalf("GET /status: %v\n%s", err, body)
		}
		return s
	}
	states := func(s statusReport) map[string]pumpStatus {
		m := map[string]pumpStatus{}
		for _, ps := range s.Pumps {
			m[ps.Name] = ps
		}
		return m
	}
	// Records for the flaky pump to park while its file says it is down.
	testutil.Seed(t, r.Client(), analytics.DefaultKey, 0, 20)
	var s statusReport
	testutil.Eventually(t, time.Minute, "the flaky pump parking its records", func() bool {
		s = status()
		f := states(s)["flaky"]
		return f.State == "parking" && f.Parked != nil && *f.Parked > 0
	})
	if len(s.Sources) != 1 {
		t.Fatalf("sources %+v: want the one list %s", s.Sources, analytics.DefaultKey)
	}
	src := s.Sources[0]
	if !src.Lease.Held || !strings.HasPrefix(src.Lease.Holder, "status-test/") || s.Instance != "status-test" {
		t.Errorf("lease %+v of instance %q: want it held by status-test", src.Lease, s.Instance)
	}
	if s.Build.Go == "" || s.Build.Version == "" || s.Ready != "ok" {
		t.Errorf("build %+v, ready %q", s.Build, s.Ready)
	}
	if src.Dead == nil || *src.Dead != 0 || src.Backlog == nil {
		t.Errorf("dead letters %v, backlog %v: want 0 and a number", src.Dead, src.Backlog)
	}
	if src.Key != analytics.DefaultKey || src.Mode != "list" || src.Group != "" {
		t.Errorf("source %+v: want the list %s", src, analytics.DefaultKey)
	}
	if n := src.Parked["flaky"]; n == nil || *n != *states(s)["flaky"].Parked {
		t.Errorf("the source's parked list of flaky %v: want the pump's %v", n, states(s)["flaky"].Parked)
	}
	got := states(s)
	if got["d"].State != "writing" || got["d"].Type != "dummy" || got["d"].Written != 20 {
		t.Errorf("dummy pump %+v: want writing, 20 written", got["d"])
	}
	if got["down"].State != "failing" || got["down"].Type != "influx" {
		t.Errorf("influx pump with no server %+v: want failing", got["down"])
	}

	// The sink comes back: its parked records are replayed.
	if err := os.Remove(broken); err != nil {
		t.Fatal(err)
	}
	testutil.Seed(t, r.Client(), analytics.DefaultKey, 20, 21)
	testutil.Eventually(t, time.Minute, "the flaky pump writing again, its parked list empty", func() bool {
		f := states(status())["flaky"]
		return f.State == "writing" && f.Parked != nil && *f.Parked == 0
	})
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(p.Output(), token) {
		t.Error("the output holds the admin token")
	}
}

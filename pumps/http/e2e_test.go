package http

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pump"
)

// The end-to-end tests run the real daemon (cmd/pump, built from source)
// against a real redis-server and a real HTTP server in the test process.
// They fail, not skip, when the binary does not build.

func pumpConfig(t *testing.T, redis *testutil.Redis, meta string) string {
	return testutil.PumpConfig(t, redis, "http", meta)
}

func TestEndToEndDrainsRedisIntoAnHTTPServerOnce(t *testing.T) {
	testutil.NeedsBinary(t)
	redis := testutil.StartRedis(t)
	// The collector refuses the first two requests with 503, as a server
	// being deployed would; the pump must retry, not lose or double them.
	s := startServer(t, func(w http.ResponseWriter, n int) {
		if n < 2 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	ctx := context.Background()
	golden, want := testutil.GoldenDecoded(t), testutil.GoldenExpected(t)
	for _, g := range golden {
		if err := redis.Client().RPush(ctx, analytics.DefaultKey, g.Raw).Err(); err != nil {
			t.Fatal(err)
		}
	}
	const total = 3000
	testutil.Seed(t, redis.Client(), analytics.DefaultKey, 0, total)
	cfg := pumpConfig(t, redis, fmt.Sprintf(`      url: %s/ingest
      format: ndjson
      gzip: true
      auth_token_env: PUMP_E2E_TOKEN
      retry_wait: 10ms
`, s.URL))
	p := testutil.StartPump(t, []string{"PUMP_E2E_TOKEN=e2e-token"}, "run", "-c", cfg)
	testutil.Eventually(t, 2*time.Minute, "the list drained and trimmed", func() bool {
		n, err := redis.Client().LLen(ctx, analytics.DefaultKey).Result()
		return err == nil && n == 0 || p.Exited()
	})
	p.Signal(syscall.SIGTERM)
	if status := p.Wait(time.Minute); status != 0 {
		t.Fatalf("pump exited %d after SIGTERM; output:\n%s", status, p.Output())
	}

	var got []analytics.Record
	for i, r := range s.requests() {
		if r.Header.Get("Authorization") != "Bearer e2e-token" {
			t.Errorf("request %d has Authorization %q", i, r.Header.Get("Authorization"))
		}
		if i < 2 {
			continue // refused
		}
		got = append(got, parseBody(t, r.Body, true)...)
	}
	if len(got) != len(golden)+total {
		t.Errorf("the server accepted %d records, want exactly %d", len(got), len(golden)+total)
	}
	seen := map[string]int{}
	var goldenSeen int
	for _, r := range got {
		if id := testutil.IDOf(r); id != "" {
			seen[id]++
			continue
		}
		for i, w := range want {
			if testutil.SameRecord(r, w) {
				goldenSeen |= 1 << i
			}
		}
	}
	if goldenSeen != 1<<len(want)-1 {
		t.Errorf("golden records arrived intact: mask %b, want all %d", goldenSeen, len(want))
	}
	for i := 0; i < total; i++ {
		if n := seen[testutil.RecordID(i)]; n != 1 {
			t.Errorf("record %s arrived %d times, want once", testutil.RecordID(i), n)
		}
	}
}

func TestEndToEndOneUnencodableRecordIsDeadLetteredAloneAndTheRestSent(t *testing.T) {
	testutil.NeedsBinary(t)
	redis := testutil.StartRedis(t)
	s := startServer(t, nil)
	ctx := context.Background()
	const total, spoilt = 1000, 500
	testutil.Seed(t, redis.Client(), analytics.DefaultKey, 0, spoilt)
	bad := testutil.MakeRecord(spoilt)
	bad.ExpireAt = time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC) // msgpack holds it, JSON cannot
	raw, err := analytics.Encode(&bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := redis.Client().RPush(ctx, analytics.DefaultKey, raw).Err(); err != nil {
		t.Fatal(err)
	}
	testutil.Seed(t, redis.Client(), analytics.DefaultKey, spoilt+1, total)
	cfg := pumpConfig(t, redis, "      url: "+s.URL+"\n      format: ndjson\n")
	p := testutil.StartPump(t, nil, "run", "-c", cfg)
	testutil.Eventually(t, 2*time.Minute, "the list drained and trimmed", func() bool {
		n, err := redis.Client().LLen(ctx, analytics.DefaultKey).Result()
		return err == nil && n == 0 || p.Exited()
	})
	p.Signal(syscall.SIGTERM)
	if status := p.Wait(time.Minute); status != 0 {
		t.Fatalf("pump exited %d after SIGTERM", status)
	}
	dead, err := redis.Client().LRange(ctx, "{"+analytics.DefaultKey+"}.dead", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range s.requests() {
		for _, rec := range parseBody(t, r.Body, true) {
			seen[testutil.IDOf(rec)]++
		}
	}
	t.Logf("%d records dead-lettered, %d sent", len(dead), len(seen))
	if len(dead) != 1 {
		first := ""
		if len(dead) > 0 {
			first = dead[0]
		}
		t.Fatalf("%d dead letters, want the one record JSON cannot hold; the first: %.200s", len(dead), first)
	}
	env, err := pump.DecodeDeadLetter([]byte(dead[0]))
	if err != nil {
		t.Fatalf("dead letter not an envelope: %v", err)
	}
	if !bytes.Equal(env.Raw, raw) || env.Pump != "x" || !strings.Contains(env.Reason, "year outside of range") {
		t.Errorf("dead letter pump %q, reason %q, same bytes %v: want the record's bytes, pump x and why", env.Pump, env.Reason, bytes.Equal(env.Raw, raw))
	}
	for i := 0; i < total; i++ {
		if n := seen[testutil.RecordID(i)]; i != spoilt && n != 1 {
			t.Errorf("record %s sent %d times, want once", testutil.RecordID(i), n)
		}
	}
	if seen[testutil.RecordID(spoilt)] != 0 {
		t.Error("the unencodable record was sent")
	}
}

func TestEndToEndValidateNamesTheKey(t *testing.T) {
	testutil.NeedsBinary(t)
	redis := testutil.StartRedis(t) // for the config's port only: validate touches nothing
	tests := []struct {
		name, meta, want, secret string
	}{
		{"no url", "      format: json\n", "pumps.x.meta.url: must not be empty", ""},
		{"bad format", "      url: http://collector/x\n      format: csv\n", `pumps.x.meta.format: want json or ndjson, got "csv"`, ""},
		{"bad url, credentials hidden", "      url: ftp://u:pw-not-shown-123@collector/x\n",
			"pumps.x.meta.url: want an http:// or https:// URL", "pw-not-shown-123"},
		{"typo", "      url: http://collector/x\n      formt: json\n", `pumps.x.meta.formt: unknown key (did you mean "format"?)`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := testutil.RunPump(t, nil, "validate", "-c", pumpConfig(t, redis, tt.meta))
			if status != 2 {
				t.Errorf("validate exited %d, want 2; output:\n%s", status, out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("validate output does not contain %q:\n%s", tt.want, out)
			}
			if tt.secret != "" && strings.Contains(out, tt.secret) {
				t.Errorf("validate output shows the password:\n%s", out)
			}
		})
	}
	t.Run("good meta, nothing listening", func(t *testing.T) {
		meta := fmt.Sprintf("      url: http://127.0.0.1:%d/x\n      auth_token_env: NOT_SET_AT_VALIDATE\n", testutil.FreePort(t))
		status, out := testutil.RunPump(t, nil, "validate", "-c", pumpConfig(t, redis, meta))
		if status != 0 {
			t.Errorf("validate exited %d, want 0; output:\n%s", status, out)
		}
	})
}

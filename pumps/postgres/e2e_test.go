package postgres

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
)

// The end-to-end tests run the real daemon (cmd/pump, built from source)
// against a real redis-server and the PostgreSQL server on 127.0.0.1:5432.
// They fail, not skip, when the binary does not build.

func pumpConfig(t *testing.T, redis *testutil.Redis, meta string) string {
	return testutil.PumpConfig(t, redis, "postgres", meta)
}

func TestEndToEndDrainsRedisIntoPostgresOnce(t *testing.T) {
	testutil.NeedsBinary(t)
	redis := testutil.StartRedis(t)
	_, dsn := createDB(t)
	ctx := context.Background()
	golden, want := testutil.GoldenDecoded(t), testutil.GoldenExpected(t)
	for _, g := range golden {
		if err := redis.Client().RPush(ctx, analytics.DefaultKey, g.Raw).Err(); err != nil {
			t.Fatal(err)
		}
	}
	const total = 3000
	testutil.Seed(t, redis.Client(), analytics.DefaultKey, 0, total)
	cfg := pumpConfig(t, redis, fmt.Sprintf("      dsn: %q\n      table: decisions\n      batch_size: 400\n", dsn))

	run := func() {
		t.Helper()
		p := testutil.StartPump(t, nil, "run", "-c", cfg)
		testutil.Eventually(t, 2*time.Minute, "the list drained and trimmed", func() bool {
			n, err := redis.Client().LLen(ctx, analytics.DefaultKey).Result()
			return err == nil && n == 0 || p.Exited()
		})
		p.Signal(syscall.SIGTERM)
		if status := p.Wait(time.Minute); status != 0 {
			t.Fatalf("pump exited %d after SIGTERM; output:\n%s", status, p.Output())
		}
	}
	run()
	// A crash between the write and the trim delivers records again: the
	// same bytes pushed once more add no row.
	testutil.Seed(t, redis.Client(), analytics.DefaultKey, 1000, 1500)
	run()

	c := connect(t, dsn)
	if n := count(t, c, "decisions"); n != len(golden)+total {
		t.Errorf("%d rows, want exactly %d", n, len(golden)+total)
	}
	got := readAll(t, c, "decisions")
	for i, w := range want {
		r, ok := got[golden[i].ID()]
		if !ok {
			t.Errorf("golden record %d missing", i)
			continue
		}
		if r.TimeStamp != w.TimeStamp || r.Username != w.Username || r.Effect != w.Effect ||
			r.Conclusion != w.Conclusion || r.Request != w.Request || r.Policies != w.Policies ||
			r.Deciders != w.Deciders || !r.ExpireAt.Equal(w.ExpireAt.Truncate(time.Microsecond)) {
			t.Errorf("golden record %d stored as %+v\nwant %+v", i, r.Record, w)
		}
	}
	for _, rec := range testutil.Records(t, 0, total) {
		r, ok := got[rec.ID()]
		if !ok || testutil.IDOf(r.Record) != testutil.IDOf(rec) {
			t.Errorf("record %s missing or wrong", testutil.IDOf(rec))
		}
	}
}

func TestEndToEndValidateNamesTheKey(t *testing.T) {
	testutil.NeedsBinary(t)
	redis := testutil.StartRedis(t) // for the config's port only: validate touches nothing
	tests := []struct {
		name, meta, want, secret string
	}{
		{"no dsn", "      table: t\n", "pumps.x.meta.dsn: must not be empty", ""},
		{"bad table, password hidden", "      dsn: postgres://pump:pw-not-shown-123@db:5432/iam\n      table: \"t; drop\"\n",
			`pumps.x.meta.table: "t; drop" is not a plain identifier`, "pw-not-shown-123"},
		{"bad dsn, password hidden", "      dsn: postgres://pump:pw-not-shown-123@db:port/iam\n",
			"pumps.x.meta.dsn: not a valid connection string", "pw-not-shown-123"},
		{"typo", "      dsn: postgres://db/iam\n      batchsize: 10\n",
			`pumps.x.meta.batchsize: unknown key (did you mean "batch_size"?)`, ""},
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
		meta := fmt.Sprintf("      dsn: postgres://pump:pw@127.0.0.1:%d/iam\n", testutil.FreePort(t))
		status, out := testutil.RunPump(t, nil, "validate", "-c", pumpConfig(t, redis, meta))
		if status != 0 {
			t.Errorf("validate exited %d, want 0; output:\n%s", status, out)
		}
	})
}

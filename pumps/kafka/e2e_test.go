package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
)

// The end-to-end tests run the real daemon (cmd/pump, built from source)
// against a real redis-server and an in-process Kafka-protocol server. They
// fail, not skip, when the binary does not build.

func pumpConfig(t *testing.T, redis *testutil.Redis, meta string) string {
	return testutil.PumpConfig(t, redis, "kafka", meta)
}

func TestEndToEndDrainsRedisIntoKafkaExactlyOnce(t *testing.T) {
	testutil.NeedsBinary(t)
	redis := testutil.StartRedis(t)
	c := startKafka(t)
	ctx := context.Background()
	golden, want := testutil.GoldenDecoded(t), testutil.GoldenExpected(t)
	for _, g := range golden {
		if err := redis.Client().RPush(ctx, analytics.DefaultKey, g.Raw).Err(); err != nil {
			t.Fatal(err)
		}
	}
	const total = 3000
	testutil.Seed(t, redis.Client(), analytics.DefaultKey, 0, total)

	cfg := pumpConfig(t, redis, fmt.Sprintf(`      broker: [%s]
      topic: %s
      compression: lz4
      meta_data: {source: e2e}
`, c.ListenAddrs()[0], topic))
	p := testutil.StartPump(t, nil, "run", "-c", cfg)
	testutil.Eventually(t, 2*time.Minute, "the list drained and trimmed", func() bool {
		n, err := redis.Client().LLen(ctx, analytics.DefaultKey).Result()
		return err == nil && n == 0 || p.Exited()
	})
	p.Signal(syscall.SIGTERM)
	if status := p.Wait(time.Minute); status != 0 {
		t.Fatalf("pump exited %d after SIGTERM; output:\n%s", status, p.Output())
	}

	n := len(golden) + total
	if got := endOffset(t, c.ListenAddrs()); got != int64(n) {
		t.Errorf("the topic holds %d messages, want exactly %d", got, n)
	}
	msgs := consume(t, c.ListenAddrs(), n)
	seen := map[string]int{}
	for i, msg := range msgs {
		var rec analytics.Record
		if err := json.Unmarshal(msg.Value, &rec); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !strings.HasSuffix(string(msg.Value), `,"source":"e2e"}`) {
			t.Errorf("message %d lacks meta_data: %s", i, msg.Value)
		}
		if i < len(want) {
			w := want[i]
			if rec.TimeStamp != w.TimeStamp || rec.Username != w.Username || rec.Effect != w.Effect ||
				rec.Conclusion != w.Conclusion || rec.Request != w.Request || rec.Policies != w.Policies ||
				rec.Deciders != w.Deciders || !rec.ExpireAt.Equal(w.ExpireAt) {
				t.Errorf("golden message %d = %+v\nwant %+v", i, rec, w)
			}
			if header(msg, "record-id") != golden[i].ID() {
				t.Errorf("golden message %d has record-id %q, want %q", i, header(msg, "record-id"), golden[i].ID())
			}
			continue
		}
		seen[testutil.IDOf(rec)]++
	}
	for i := 0; i < total; i++ {
		if k := seen[testutil.RecordID(i)]; k != 1 {
			t.Errorf("record %s arrived %d times, want once", testutil.RecordID(i), k)
		}
	}
}

func TestEndToEndValidateNamesTheKey(t *testing.T) {
	testutil.NeedsBinary(t)
	redis := testutil.StartRedis(t) // for the config's port only: validate touches nothing
	tests := []struct {
		name, meta, want, secret string
	}{
		{"broker without a port", "      broker: [localhost]\n      topic: t\n",
			`pumps.x.meta.broker[0]: want host:port, got "localhost"`, ""},
		{"no topic", "      broker: [localhost:9092]\n", "pumps.x.meta.topic: must not be empty", ""},
		{"typo", "      broker: [localhost:9092]\n      topic: t\n      compresed: true\n",
			`pumps.x.meta.compresed: unknown key (did you mean "compressed"?)`, ""},
		{"bad mechanism, password hidden",
			"      broker: [localhost:9092]\n      topic: t\n      sasl_mechanism: GSSAPI\n      sasl_username: u\n      sasl_password: pw-not-shown-123\n",
			"pumps.x.meta.sasl_mechanism: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", "pw-not-shown-123"},
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
		meta := fmt.Sprintf("      broker: [127.0.0.1:%d]\n      topic: t\n", testutil.FreePort(t))
		status, out := testutil.RunPump(t, nil, "validate", "-c", pumpConfig(t, redis, meta))
		if status != 0 {
			t.Errorf("validate exited %d, want 0; output:\n%s", status, out)
		}
	})
}

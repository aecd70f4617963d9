package mongo

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
)

// The end-to-end tests run the real daemon (cmd/pump, built from source)
// against a real redis-server and FerretDB. They fail, not skip, when the
// binary does not build.

func pumpConfig(t *testing.T, redis *testutil.Redis, url, coll string, extraMeta string) string {
	t.Helper()
	return testutil.WriteFile(t, "pump.yaml", fmt.Sprintf(`purge-delay: 1
health-check-address: 127.0.0.1:%d
redis:
  host: 127.0.0.1
  port: %d
pumps:
  mongo:
    type: mongo
    meta:
      mongo_url: %q
      collection_name: %s
      max_insert_batch_size_bytes: 65536
%s`, testutil.FreePort(t), redis.Port, url, coll, extraMeta))
}

func TestEndToEndDrainsRedisIntoMongo(t *testing.T) {
	testutil.NeedsBinary(t)
	redis := testutil.StartRedis(t)
	f := StartFerretDB(t)
	const first, total = 2500, 3000
	testutil.Seed(t, redis.Client(), analytics.DefaultKey, 0, first)

	cfg := pumpConfig(t, redis, f.URL("iam"), "e2e", "")
	p := testutil.StartPump(t, nil, "run", "-c", cfg)
	c := reader(t, f, "iam", "e2e")
	ctx := context.Background()

	testutil.Eventually(t, 2*time.Minute, testutil.Pf("%d documents in iam.e2e", first), func() bool {
		return count(t, c) == first || p.Exited()
	})
	// More records while it runs.
	testutil.Seed(t, redis.Client(), analytics.DefaultKey, first, total)
	testutil.Eventually(t, 2*time.Minute, testutil.Pf("%d documents in iam.e2e", total), func() bool {
		return count(t, c) == total || p.Exited()
	})
	testutil.Eventually(t, 30*time.Second, "the list trimmed to empty", func() bool {
		n, err := redis.Client().LLen(ctx, analytics.DefaultKey).Result()
		return err == nil && n == 0
	})

	p.Signal(syscall.SIGTERM)
	if status := p.Wait(time.Minute); status != 0 {
		t.Fatalf("pump exited %d after SIGTERM; output:\n%s", status, p.Output())
	}
	checkAllSeeded(t, c, 0, total)

	// A crash between the write and the trim delivers records again: the
	// same bytes pushed once more add no document.
	testutil.Seed(t, redis.Client(), analytics.DefaultKey, 1000, 1500)
	p = testutil.StartPump(t, nil, "run", "-c", cfg)
	testutil.Eventually(t, time.Minute, "the re-delivered records drained", func() bool {
		n, err := redis.Client().LLen(ctx, analytics.DefaultKey).Result()
		return err == nil && n == 0 || p.Exited()
	})
	p.Signal(syscall.SIGTERM)
	if status := p.Wait(time.Minute); status != 0 {
		t.Fatalf("pump exited %d after SIGTERM; output:\n%s", status, p.Output())
	}
	if n := count(t, c); n != total {
		t.Errorf("%d documents after re-delivery, want %d", n, total)
	}
	checkAllSeeded(t, c, 0, total)
}

// checkAllSeeded checks the collection holds exactly records from..to-1,
// each under its own _id.
func checkAllSeeded(t *testing.T, c *mongo.Collection, from, to int) {
	t.Helper()
	got := readAll(t, c)
	if len(got) != to-from {
		t.Errorf("%d documents, want %d", len(got), to-from)
	}
	for _, r := range testutil.Records(t, from, to) {
		d, ok := got[r.ID()]
		if !ok {
			t.Errorf("record %s (_id %s) missing", testutil.IDOf(r), r.ID())
			continue
		}
		if testutil.IDOf(d.Record) != testutil.IDOf(r) || d.Username != r.Username || d.Policies != r.Policies ||
			!d.ExpireAt.Equal(r.ExpireAt) || d.TimeStamp != r.TimeStamp {
			t.Errorf("_id %s holds %+v, want record %s", r.ID(), d.Record, testutil.IDOf(r))
		}
	}
}

func TestEndToEndValidateNamesTheKey(t *testing.T) {
	testutil.NeedsBinary(t)
	redis := testutil.StartRedis(t) // for the config's port only: validate touches nothing
	tests := []struct {
		name, url, coll string
		want            string
		secret          string
	}{
		{"not a mongo URL", "http://127.0.0.1:27017/iam", "c",
			"pumps.mongo.meta.mongo_url: must start with mongodb:// or mongodb+srv://", ""},
		{"bad port, password hidden", "mongodb://iam:topsecret-pw@127.0.0.1:0/iam", "c",
			`pumps.mongo.meta.mongo_url: error parsing uri: invalid host in "127.0.0.1:0"`, "topsecret-pw"},
		{"no collection", "mongodb://127.0.0.1:27017/iam", `""`,
			"pumps.mongo.meta.collection_name: must name the collection", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := pumpConfig(t, redis, tt.url, tt.coll, "")
			status, out := testutil.RunPump(t, nil, "validate", "-c", cfg)
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

	t.Run("good meta", func(t *testing.T) {
		// validate does no I/O: nothing listens on this URL's port.
		url := fmt.Sprintf("mongodb://iam:pw@127.0.0.1:%d/iam", testutil.FreePort(t))
		cfg := pumpConfig(t, redis, url, "iam_analytics",
			"      collection_cap_enable: true\n      max_document_size_bytes: 1048576\n")
		if status, out := testutil.RunPump(t, nil, "validate", "-c", cfg); status != 0 {
			t.Errorf("validate exited %d, want 0; output:\n%s", status, out)
		}
	})
}

func TestEndToEndSurvivesAMongoOutage(t *testing.T) {
	testutil.NeedsBinary(t)
	redis := testutil.StartRedis(t)
	f := StartFerretDB(t)
	// A short retry budget, so the outage outlasts it and the records are
	// parked for this pump.
	cfg := pumpConfig(t, redis, f.URL("iam"), "outage", "    timeout: 2\n    max-retry-time: 3s\n")
	p := testutil.StartPump(t, nil, "run", "-c", cfg)
	c := reader(t, f, "iam", "outage")
	ctx := context.Background()

	testutil.Seed(t, redis.Client(), analytics.DefaultKey, 0, 500)
	testutil.Eventually(t, time.Minute, "500 documents before the outage", func() bool {
		return count(t, c) == 500 || p.Exited()
	})

	f.Stop()
	testutil.Seed(t, redis.Client(), analytics.DefaultKey, 500, 1500)
	// Nothing is lost while MongoDB is away: past the retry budget the
	// records are parked for this pump in Redis until it writes again.
	parked := func() int64 {
		keys, err := redis.Client().Keys(ctx, "*parked*").Result()
		if err != nil {
			return -1
		}
		var n int64
		for _, k := range keys {
			l, _ := redis.Client().LLen(ctx, k).Result()
			n += l
		}
		return n
	}
	testutil.Eventually(t, time.Minute, "records parked during the outage", func() bool {
		return parked() > 0 || p.Exited()
	})
	if p.Exited() {
		t.Fatalf("pump exited during the outage; output:\n%s", p.Output())
	}
	f.Start()
	testutil.Eventually(t, 2*time.Minute, "1500 documents after the outage", func() bool {
		return tryCount(c) == 1500 || p.Exited()
	})
	testutil.Eventually(t, time.Minute, "the list and the parked list empty", func() bool {
		n, err := redis.Client().LLen(ctx, analytics.DefaultKey).Result()
		return err == nil && n == 0 && parked() == 0
	})
	p.Signal(syscall.SIGTERM)
	if status := p.Wait(time.Minute); status != 0 {
		t.Fatalf("pump exited %d after SIGTERM; output:\n%s", status, p.Output())
	}
	checkAllSeeded(t, c, 0, 1500)
}

// tryCount counts the documents, or returns -1 when the server does not
// answer (yet): the reader's own connections do not survive a restart.
func tryCount(c *mongo.Collection) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := c.CountDocuments(ctx, bson.D{})
	if err != nil {
		return -1
	}
	return n
}

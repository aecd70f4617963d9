package storage

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pumpd/pump/internal/testing/testutil"
)

// startFullRedis starts a redis-server with a small maxmemory and
// noeviction, and fills it until it refuses an RPUSH, as a producer is
// refused in production. It returns a client and how many elements fit.
func startFullRedis(t *testing.T, list string) (*redis.Client, int) {
	t.Helper()
	srv := testutil.StartRedisProcess(t, testutil.ProcessOptions{Name: "full redis-server",
		Args: []string{"--maxmemory", "2mb", "--maxmemory-policy", "noeviction"}})
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	elem := strings.Repeat("x", 900)
	n := 0
	for ; ; n++ {
		err := c.RPush(ctx, list, elem+strconv.Itoa(n)).Err()
		if err == nil {
			continue
		}
		if !redis.IsOOMError(err) {
			t.Fatalf("RPUSH %d: %v, want OOM", n, err)
		}
		break
	}
	return c, n
}

// TestScriptsRunOnAFullRedis takes the lease and trims with dead letters
// and parked records on a Redis that refuses producers: the scripts' SET
// and RPUSH must not be refused, or a full Redis can never be drained.
func TestScriptsRunOnAFullRedis(t *testing.T) {
	ctx := context.Background()
	c, n := startFullRedis(t, "analytics-full")
	q := NewQueue(c, "analytics-full", "a", 5*time.Second)
	ok, err := q.Acquire(ctx)
	if err != nil || !ok {
		t.Fatalf("Acquire on a full Redis = %v, %v (%v); want the lease", ok, err, Classify(err))
	}
	for left := n; left > 0; {
		batch, err := q.Peek(ctx, q.Key(), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		err = q.Apply(ctx, Trim{Seq: q.NextSeq(), List: q.Key(), Batch: FingerprintOf(batch),
			DeadLetters: batch[:1], Parked: map[string][][]byte{"p": batch[1:2]}})
		if err != nil {
			t.Fatalf("trim on a full Redis with %d left: %v (%v)", left, err, Classify(err))
		}
		left -= len(batch)
	}
	if l, _ := q.Len(ctx, q.Key()); l != 0 {
		t.Fatalf("%d left after trimming all %d", l, n)
	}
	if err := q.Release(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d elements filled the Redis; all trimmed, a dead letter and a parked record per batch", n)
}

// TestScriptFallsBackOnceWhenTheServerRefusesTheShebang stands in for a
// Redis 6, which cannot compile a shebang, with a flag Redis 7 does not
// know: the plain body runs, and the client is not offered the shebang
// again.
func TestScriptFallsBackOnceWhenTheServerRefusesTheShebang(t *testing.T) {
	ctx := context.Background()
	r := testutil.StartRedis(t)
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer c.Close()
	s := newScriptWith("#!lua flags=no-such-flag\n", "return redis.call('INCR', KEYS[1])")
	errs := regexp.MustCompile(`total_error_replies:(\d+)`)
	errorReplies := func() int {
		info, err := c.Info(ctx, "stats").Result()
		if err != nil {
			t.Fatal(err)
		}
		m := errs.FindStringSubmatch(info)
		if m == nil {
			t.Fatalf("no total_error_replies in INFO stats:\n%s", info)
		}
		v, _ := strconv.Atoi(m[1])
		return v
	}
	if n, err := s.Run(ctx, c, []string{"k"}).Int(); err != nil || n != 1 {
		t.Fatalf("first run: %d %v, want the plain body's 1", n, err)
	}
	before := errorReplies()
	for i := 2; i <= 4; i++ {
		if n, err := s.Run(ctx, c, []string{"k"}).Int(); err != nil || n != i {
			t.Fatalf("run %d: %d %v", i, n, err)
		}
	}
	if after := errorReplies(); after != before {
		t.Fatalf("%d error replies after the fallback: the shebang was offered again", after-before)
	}
	// Another client learns for itself.
	other := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer other.Close()
	if n, err := s.Run(ctx, other, []string{"k"}).Int(); err != nil || n != 5 {
		t.Fatalf("another client: %d %v", n, err)
	}
	// A script error that is not about the shebang is the caller's.
	broken := newScriptWith(oomShebang, "return redis.call('NOSUCHCOMMAND')")
	if err := broken.Run(ctx, c, nil).Err(); err == nil || errors.Is(err, redis.Nil) {
		t.Fatalf("a failing script ran without error: %v", err)
	}
}

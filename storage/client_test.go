package storage

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pumpd/pump/internal/testing/testutil"
)

// TestClusterClientRoutesEveryCommandAgainstRedis7 runs the queue's
// commands through NewClient's cluster client against a real three-node
// cluster: the client must read Redis 7's CLUSTER SLOTS (else every command
// fails) and its COMMAND (else every keyed command goes to a random node
// after asking for the whole command table again).
func TestClusterClientRoutesEveryCommandAgainstRedis7(t *testing.T) {
	c := testutil.StartRedisCluster(t, 3)
	client, err := NewClient(Options{Cluster: true, Addrs: c.Addrs[:1]})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// One list per node, found by their slots.
	lists := map[string]string{}
	for i := 0; len(lists) < len(c.Addrs); i++ {
		key := "analytics-" + strconv.Itoa(i)
		if owner := c.SlotOwner(c.KeySlot(key)); lists[owner] == "" {
			lists[owner] = key
		}
	}
	for owner, key := range lists {
		q := NewQueue(client, key, "test", 5*time.Second)
		if ok, err := q.Acquire(ctx); err != nil || !ok {
			t.Fatalf("acquire the lease of %s: %v %v", key, ok, err)
		}
		for i := 0; i < 20; i++ {
			elems := [][]byte{[]byte(key + "-" + strconv.Itoa(i)), []byte("more")}
			if err := q.Push(ctx, key, elems); err != nil {
				t.Fatal(err)
			}
			batch, err := q.Peek(ctx, key, 0, 2)
			if err != nil || len(batch) != 2 {
				t.Fatalf("peek %s: %d %v", key, len(batch), err)
			}
			if err := q.Apply(ctx, Trim{Seq: q.NextSeq(), List: key, Batch: FingerprintOf(batch), DeadLetters: [][]byte{[]byte("dead")}}); err != nil {
				t.Fatalf("trim %s: %v", key, err)
			}
		}
		if n, err := q.Len(ctx, key); err != nil || n != 0 {
			t.Fatalf("%s holds %d (%v) after the trims, want 0", key, n, err)
		}
		if n, err := q.Delete(ctx, q.DeadKey()); err != nil || n != 20 {
			t.Fatalf("delete %s: %d %v, want 20", q.DeadKey(), n, err)
		}
		if err := q.Release(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s on %s", key, owner)
	}

	commandCalls := regexp.MustCompile(`cmdstat_command:calls=(\d+)`)
	total := 0
	for _, addr := range c.Addrs {
		stats := c.Info(addr, "commandstats") + c.Info(addr, "errorstats")
		if strings.Contains(stats, "errorstat_MOVED") {
			t.Errorf("node %s redirected commands: they were sent to the wrong node\n%s", addr, stats)
		}
		if m := commandCalls.FindStringSubmatch(stats); m != nil {
			n, _ := strconv.Atoi(m[1])
			total += n
		}
	}
	// The command table is read once per node at most.
	if total > len(c.Addrs) {
		t.Errorf("COMMAND was called %d times: the table is read again and again", total)
	}
}

package storage

import (
	"context"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-redis/redis/v8"

	"github.com/pumpd/pump/internal/testutil"
)

func TestParseClusterSlots(t *testing.T) {
	// Redis 7 adds the node's metadata (a map, a flat array in RESP2)
	// after its id; Redis 6 stops at the id, older ones at the port.
	reply := []any{
		[]any{int64(0), int64(5460),
			[]any{"10.0.0.1", int64(7000), "id-a", []any{}},
			[]any{"10.0.0.4", int64(7003), "id-d", []any{"hostname", "d.example"}}},
		[]any{int64(5461), int64(10922), []any{"10.0.0.2", int64(7001), "id-b"}},
		[]any{int64(10923), int64(16383), []any{"", int64(7002)}},
	}
	got, err := parseClusterSlots(reply, "10.0.0.9:7000")
	if err != nil {
		t.Fatal(err)
	}
	want := []redis.ClusterSlot{
		{Start: 0, End: 5460, Nodes: []redis.ClusterNode{{ID: "id-a", Addr: "10.0.0.1:7000"}, {ID: "id-d", Addr: "10.0.0.4:7003"}}},
		{Start: 5461, End: 10922, Nodes: []redis.ClusterNode{{ID: "id-b", Addr: "10.0.0.2:7001"}}},
		// An empty endpoint is the host that answered.
		{Start: 10923, End: 16383, Nodes: []redis.ClusterNode{{Addr: "10.0.0.9:7002"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}

	// A node announcing a loopback address, asked through a routable one,
	// is reached through that one (as go-redis does); through a loopback
	// or a host name, it is left alone.
	loop := []any{[]any{int64(0), int64(16383), []any{"127.0.0.1", int64(7000), "id"}}}
	for origin, addr := range map[string]string{
		"10.0.0.9:7000": "10.0.0.9:7000", "127.0.0.1:7000": "127.0.0.1:7000", "redis.example:7000": "127.0.0.1:7000",
	} {
		got, err := parseClusterSlots(loop, origin)
		if err != nil || got[0].Nodes[0].Addr != addr {
			t.Errorf("asked through %s: %+v %v, want the node at %s", origin, got, err, addr)
		}
	}

	for _, bad := range [][]any{
		{"not an array"},
		{[]any{int64(0), int64(1)}},
		{[]any{"0", int64(1), []any{"h", int64(1)}}},
		{[]any{int64(0), int64(1), []any{"h"}}},
		{[]any{int64(0), int64(1), []any{"h", "port"}}},
	} {
		if got, err := parseClusterSlots(bad, "10.0.0.9:7000"); err == nil {
			t.Errorf("%v parsed as %+v, want an error", bad, got)
		}
	}
}

func TestParseCommandTable(t *testing.T) {
	// A Redis 7 entry: ten elements, the last three (tips, key specs,
	// subcommands) ignored.
	reply := []any{
		[]any{"lrange", int64(4), []any{"readonly"}, int64(1), int64(1), int64(1),
			[]any{"@read", "@list", "@slow"}, []any{}, []any{[]any{"flags", []any{"RO"}}}, []any{}},
		[]any{"EVALSHA", int64(-3), []any{"noscript", "stale"}, int64(0), int64(0), int64(0)},
	}
	got, err := parseCommandTable(reply)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*redis.CommandInfo{
		"lrange": {Name: "lrange", Arity: 4, Flags: []string{"readonly"}, ACLFlags: []string{"@read", "@list", "@slow"},
			FirstKeyPos: 1, LastKeyPos: 1, StepCount: 1, ReadOnly: true},
		"evalsha": {Name: "evalsha", Arity: -3, Flags: []string{"noscript", "stale"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if got, err := parseCommandTable([]any{[]any{"get", "2"}}); err == nil {
		t.Fatalf("a short entry parsed as %+v, want an error", got)
	}
}

// TestClusterClientRoutesEveryCommandAgainstRedis7 runs the queue's
// commands through NewClient's cluster client against a real three-node
// cluster: go-redis v8 alone cannot read Redis 7's CLUSTER SLOTS (every
// command fails) nor its COMMAND (every keyed command goes to a random
// node after asking for the whole command table again).
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
			if err := q.Apply(ctx, Trim{List: key, Batch: FingerprintOf(batch), DeadLetters: [][]byte{[]byte("dead")}}); err != nil {
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
	// The command table is read once per node client at most (twice when
	// go-redis fails to parse it and the hook reads it again).
	if total > 2*len(c.Addrs) {
		t.Errorf("COMMAND was called %d times: the table is read again and again", total)
	}
}

package storage

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pumpd/pump/internal/testing/testutil"
)

func TestTrimsWaitForReplicasAndCountThoseNotAcknowledged(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartRedisProcess(t, testutil.ProcessOptions{Name: "master"})
	replica := testutil.StartRedisProcess(t, testutil.ProcessOptions{Name: "replica",
		Args: []string{"--replicaof", "127.0.0.1", strconv.Itoa(master.Port)}})
	rc := redis.NewClient(&redis.Options{Addr: replica.Addr})
	defer rc.Close()
	testutil.Eventually(t, 30*time.Second, "the replica in sync", func() bool {
		return strings.Contains(rc.Info(ctx, "replication").Val(), "master_link_status:up")
	})
	c := redis.NewClient(&redis.Options{Addr: master.Addr})
	defer c.Close()
	q := NewQueue(c, "analytics-wait", "a", 10*time.Second)
	var changes []string
	q.OnReplication(func(ok bool, acked, want int) { changes = append(changes, fmt.Sprint(ok, acked, want)) })
	if ok, err := q.Acquire(ctx); err != nil || !ok {
		t.Fatal(ok, err)
	}
	trim := func() {
		t.Helper()
		if err := q.Push(ctx, q.Key(), [][]byte{[]byte("a"), []byte("b")}); err != nil {
			t.Fatal(err)
		}
		batch, _ := q.Peek(ctx, q.Key(), 0, 2)
		if err := q.Apply(ctx, Trim{Seq: q.NextSeq(), List: q.Key(), Batch: FingerprintOf(batch), DeadLetters: batch[:1]}); err != nil {
			t.Fatal(err)
		}
		if n, _ := q.Len(ctx, q.Key()); n != 0 {
			t.Fatalf("%d left after the trim", n)
		}
	}
	for _, step := range []struct {
		replicas     int
		unreplicated uint64
		changes      string
	}{
		{1, 0, "[]"},                   // the one replica acknowledges
		{2, 1, "[false 1 2]"},          // asks for more than there are
		{2, 2, "[false 1 2]"},          // still lagging: not reported again
		{1, 2, "[false 1 2 true 1 1]"}, // acknowledged again
		{0, 2, "[false 1 2 true 1 1]"}, // off
	} {
		q.SetWaitReplicas(step.replicas, 300*time.Millisecond)
		trim()
		if got := q.UnreplicatedTrims(); got != step.unreplicated {
			t.Errorf("wait-replicas %d: %d unreplicated trims, want %d", step.replicas, got, step.unreplicated)
		}
		if got := fmt.Sprint(changes); got != step.changes {
			t.Errorf("wait-replicas %d: reported %s, want %s", step.replicas, got, step.changes)
		}
	}
	// A fresh script cache (a failover to a replica that never ran it):
	// EVALSHA fails, EVAL runs, WAIT follows.
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	q.SetWaitReplicas(1, 300*time.Millisecond)
	trim()
	if got := q.UnreplicatedTrims(); got != 2 {
		t.Errorf("after a script flush: %d unreplicated trims, want 2", got)
	}
	// Each trim's dead letter reached the replica: the last trim's WAIT
	// covers every write before it on its connection.
	if n := rc.LLen(ctx, q.DeadKey()).Val(); n != 6 {
		t.Errorf("the replica holds %d dead letters, want 6", n)
	}
}

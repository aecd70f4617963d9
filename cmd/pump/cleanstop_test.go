//go:build linux

package main

// A clean stop exits 0 whatever Redis did before it: closing the Redis
// client at shutdown fails when its pool holds a connection already closed
// underneath it (after a Sentinel failover: "close tcp ...: use of closed
// network connection"), and that must not make the stop a failure.

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/pumpd/pump/internal/testing/testutil"
)

func TestClosingARedisClientWithADeadConnectionIsNoShutdownFailure(t *testing.T) {
	r := testutil.StartRedis(t)
	var mu sync.Mutex
	var dialed []net.Conn
	client := redis.NewClient(&redis.Options{Addr: r.Addr, Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			mu.Lock()
			dialed = append(dialed, c)
			mu.Unlock()
		}
		return c, err
	}})
	// A connection in use at the stop, closed underneath the pool, as the
	// failover client's are when the sentinel switches masters.
	conn := client.Conn()
	if err := conn.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for _, c := range dialed {
		_ = c.Close()
	}
	mu.Unlock()

	core, logs := observer.New(zap.DebugLevel)
	var shutdown ShutdownManager
	shutdown.Register("redis client", closeRedisClient(zap.New(core), client))
	if err := shutdown.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown = %v, want nil: a clean stop would exit 1", err)
	}
	warned := logs.FilterMessageSnippet("closing the redis client failed").All()
	if len(warned) != 1 || !strings.Contains(warned[0].ContextMap()["error"].(string), "use of closed network connection") {
		t.Fatalf("want one warning naming the closed connection, got %v", logs.All())
	}
}

package storage

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pumpd/pump/internal/testing/testutil"
)

// reply is a server's error reply that no server here can be made to give
// on demand (LOADING, a Redis 6 script's wrapping).
type reply string

func (r reply) Error() string { return string(r) }
func (reply) RedisError()     {}

// listen accepts connections on a loopback port and hands each to serve.
func listen(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return l.Addr().String()
}

func TestClassifyTellsWhatRedisSaid(t *testing.T) {
	ctx := context.Background()
	plain := testutil.StartRedis(t)
	full, _ := startFullRedis(t, "filler")
	replica := testutil.StartRedisProcess(t, testutil.ProcessOptions{Name: "replica",
		Args: []string{"--replicaof", "127.0.0.1", strconv.Itoa(plain.Port)}})
	secured := testutil.StartRedisProcess(t, testutil.ProcessOptions{Name: "ACL redis-server",
		Args: []string{"--requirepass", "right-Pa55", "--user", "reader", "on", ">reader-Pa55", "~*", "+get", "+ping", "+hello", "+auth"},
		Ready: func(ctx context.Context, addr string) error {
			c := redis.NewClient(&redis.Options{Addr: addr, Password: "right-Pa55", MaxRetries: -1})
			defer c.Close()
			return c.Ping(ctx).Err()
		}})
	cluster := testutil.StartRedisCluster(t, 2)
	silent := listen(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }) // reads, never answers
	hangUp := listen(t, func(c net.Conn) { _ = c.Close() })

	client := func(o redis.Options) *redis.Client {
		o.MaxRetries = -1
		if o.ReadTimeout == 0 {
			o.ReadTimeout = time.Second
		}
		c := redis.NewClient(&o)
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	// Through the queue's own scripts, as the pump meets them.
	plainScripts := func(c redis.Scripter) error {
		plainClients.Store(c, struct{}{}) // what a Redis 6 runs
		q := NewQueue(c.(redis.UniversalClient), "analytics", "a", time.Second)
		_, err := q.Acquire(ctx)
		return err
	}
	acquire := func(c redis.UniversalClient) error {
		_, err := NewQueue(c, "analytics", "a", time.Second).Acquire(ctx)
		return err
	}
	// A key node 0 does not serve, asked of node 0 as if it were alone.
	var foreign string
	for i := 0; foreign == ""; i++ {
		k := "k" + strconv.Itoa(i)
		if cluster.SlotOwner(cluster.KeySlot(k)) != cluster.Addrs[0] {
			foreign = k
		}
	}

	for _, tc := range []struct {
		name string
		err  func() error
		want Condition
	}{
		{"nil", func() error { return nil }, OK},
		{"SET on a full Redis", func() error { return client(redis.Options{Addr: full.Options().Addr}).Set(ctx, "k", "v", 0).Err() }, OutOfMemory},
		{"a plain lease script on a full Redis (Redis 6)", func() error { return plainScripts(client(redis.Options{Addr: full.Options().Addr})) }, OutOfMemory},
		{"a Redis 6 script's wrapped OOM", func() error {
			return fmt.Errorf("redis: acquire: %w", reply("ERR Error running script (call to f_3c94): @user_script:8: @user_script: 8: -OOM command not allowed when used memory > 'maxmemory'."))
		}, OutOfMemory},
		{"SET on a replica", func() error { return client(redis.Options{Addr: replica.Addr}).Set(ctx, "k", "v", 0).Err() }, ReadOnly},
		{"the lease script on a replica", func() error { return acquire(client(redis.Options{Addr: replica.Addr})) }, ReadOnly},
		{"LOADING", func() error { return reply("LOADING Redis is loading the dataset in memory") }, Loading},
		{"no password", func() error { return client(redis.Options{Addr: secured.Addr}).Get(ctx, "k").Err() }, AuthFailed},
		{"a wrong password", func() error { return client(redis.Options{Addr: secured.Addr, Password: "wrong"}).Ping(ctx).Err() }, AuthFailed},
		{"a command the ACL user may not run", func() error {
			return client(redis.Options{Addr: secured.Addr, Username: "reader", Password: "reader-Pa55"}).Set(ctx, "k", "v", 0).Err()
		}, AuthFailed},
		{"a cluster node asked for another's key", func() error { return client(redis.Options{Addr: cluster.Addrs[0]}).Get(ctx, foreign).Err() }, Redirected},
		{"ASK", func() error { return reply("ASK 3999 127.0.0.1:6381") }, Redirected},
		{"connection refused", func() error {
			return client(redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))}).Ping(ctx).Err()
		}, Unreachable},
		{"no answer within the read timeout", func() error { return client(redis.Options{Addr: silent}).Ping(ctx).Err() }, Unreachable},
		{"the connection closed", func() error { return client(redis.Options{Addr: hangUp}).Ping(ctx).Err() }, Unreachable},
		{"TLS to a plain server (no handshake answer)", func() error {
			return client(redis.Options{Addr: plain.Addr, TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}}).Ping(ctx).Err()
		}, Unreachable},
		{"an unknown command", func() error { return client(redis.Options{Addr: plain.Addr}).Do(ctx, "NOSUCHCOMMAND").Err() }, Other},
		{"a closed client", func() error {
			c := redis.NewClient(&redis.Options{Addr: plain.Addr})
			_ = c.Close()
			return c.Ping(ctx).Err()
		}, Other},
		{"a plain Go error", func() error { return errors.New("something else") }, Other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if got := Classify(err); got != tc.want {
				t.Fatalf("Classify(%v) = %v, want %v", err, got, tc.want)
			}
			if tc.want != OK && err == nil {
				t.Fatal("no error")
			}
		})
	}
}

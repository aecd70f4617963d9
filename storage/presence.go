package storage

import (
	"context"
	"fmt"
	"time"
)

// presenceKey is a sorted set of the runs (lease tokens) that drain or
// stand by for the source, each scored with when it lapses, by the Redis
// server's clock: how many instances share the source's leases now.
func (q *Queue) presenceKey() string { return q.tagged("instances") }

// KEYS: presence. ARGV: token, lifetime ms. Redis's own clock, so the hosts'
// clocks need not agree; TIME is allowed since scripts replicate their
// effects (the default from Redis 5 on, the only way from 7).
var presentScript = newScript(`
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZADD', KEYS[1], now + ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], ARGV[2] * 2)
return redis.call('ZCARD', KEYS[1])
`)

// Present says that this run shares the source's leases for life more and
// returns how many runs do, this one included.
func (q *Queue) Present(ctx context.Context, life time.Duration) (int, error) {
	n, err := presentScript.Run(ctx, q.client, []string{q.presenceKey()}, q.token, life.Milliseconds()).Int()
	if err != nil {
		return 0, fmt.Errorf("redis: presence %s: %w", q.presenceKey(), err)
	}
	return n, nil
}

// Absent takes this run out of the count, at a clean stop.
func (q *Queue) Absent(ctx context.Context) error {
	if err := q.client.ZRem(ctx, q.presenceKey(), q.token).Err(); err != nil {
		return fmt.Errorf("redis: presence %s: %w", q.presenceKey(), err)
	}
	return nil
}

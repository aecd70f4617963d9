package main

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/pumpd/pump/produce"
)

// streamKey is the stream of the streams lines, read by the pump's default
// group (pump) and field (data).
const (
	streamKey   = "analytics-stream"
	streamGroup = "pump"
)

// The streams lines: the dummy line's records XADDed to a stream and drained
// through a consumer group, by one pump and by three at once (distinct
// instance ids, one group), beside the list line they compare with.
var streamSinks = []benchSink{
	{name: "streams", typ: "dummy", stream: true, seed: seedStream, setup: streamSetup(1)},
	{name: "streams-x3", typ: "dummy", stream: true, instances: 3, seed: seedStream, setup: streamSetup(3)},
}

func streamSetup(instances int) func(*env, int) (*target, error) {
	return func(e *env, n int) (*target, error) {
		t, err := setupDummy(e, n)
		if err != nil {
			return nil, err
		}
		t.server = fmt.Sprintf("none (dummy); from stream %s, group %s, one pump process", streamKey, streamGroup)
		if instances > 1 {
			t.server = fmt.Sprintf("none (dummy); from stream %s, group %s, %d pump processes (peak RSS: the largest one's; CPU: their sum)",
				streamKey, streamGroup, instances)
		}
		return t, nil
	}
}

// seedStream empties the database and XADDs the same n records as seed
// puts on the list, in order, each in field data.
func seedStream(c *redis.Client, n int) (int, error) {
	ctx := context.Background()
	if err := c.FlushDB(ctx).Err(); err != nil {
		return 0, err
	}
	p, err := produce.New(c, produce.Options{Mode: produce.Streams, Key: streamKey, Pipeline: 1000})
	if err != nil {
		return 0, err
	}
	const chunk = 5000
	for start := 0; start < n; start += chunk {
		raws := make([][]byte, 0, chunk)
		for i := start; i < min(start+chunk, n); i++ {
			raws = append(raws, encoded(i))
		}
		if _, err := p.SendRaw(ctx, raws); err != nil {
			return 0, err
		}
	}
	got, err := c.XLen(ctx, streamKey).Result()
	if err != nil {
		return 0, err
	}
	if got != int64(n) {
		return 0, fmt.Errorf("the stream holds %d entries after seeding, want %d", got, n)
	}
	return n, nil
}

// streamBacklog returns what the stream still holds: its entries, or with
// none left, the group's pending entries (the trim runs below the oldest
// pending one, so there should be none then).
func streamBacklog(c *redis.Client) func(context.Context) (int64, error) {
	return func(ctx context.Context) (int64, error) {
		left, err := c.XLen(ctx, streamKey).Result()
		if err != nil || left > 0 {
			return left, err
		}
		p, err := c.XPending(ctx, streamKey, streamGroup).Result()
		if err != nil {
			return 0, fmt.Errorf("XPENDING %s %s: %w", streamKey, streamGroup, err)
		}
		return p.Count, nil
	}
}

package storage

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// SetWaitReplicas makes every trim wait, on its own connection, until n
// replicas acknowledged it or timeout passed (Redis's WAIT), so a failover
// to a replica does not undo trims the pump already counted: undone, their
// batches would be delivered again. 0 turns it off.
func (q *Queue) SetWaitReplicas(n int, timeout time.Duration) {
	q.waitReplicas, q.waitTimeout = n, timeout
}

// OnReplication sets what is called when trims stop being acknowledged by
// the replicas SetWaitReplicas asks for (ok false, with how many did) and
// when they are again (ok true): once per change, not per trim.
func (q *Queue) OnReplication(fn func(ok bool, acked, want int)) { q.onReplication = fn }

// UnreplicatedTrims counts the trims fewer replicas acknowledged than
// asked for within the wait timeout.
func (q *Queue) UnreplicatedTrims() uint64 { return q.unreplicated.Load() }

// replication is the wait state of a Queue.
type replication struct {
	waitReplicas  int
	waitTimeout   time.Duration
	onReplication func(ok bool, acked, want int)
	unreplicated  atomic.Uint64
	lagging       atomic.Bool
}

// runTrim runs the trim script, followed by WAIT on the same connection
// when replicas are awaited. Too few acknowledgements (or a failed WAIT)
// are counted and reported, never an error: the trim is applied on the
// master either way.
func (q *Queue) runTrim(ctx context.Context, keys []string, args ...any) (int, error) {
	if q.waitReplicas <= 0 {
		return trimScript.Run(ctx, q.client, keys, args...).Int()
	}
	// A pipeline runs on one connection; WAIT waits for that connection's
	// writes. A cluster client would send the keyless WAIT to any node, so
	// the pipeline goes to the list's master.
	var c redis.Cmdable = q.client
	if cc, ok := q.client.(*redis.ClusterClient); ok {
		node, err := cc.MasterForKey(ctx, keys[0])
		if err != nil {
			return 0, err
		}
		c = node
	}
	eval, wait := q.trimAndWait(ctx, c, keys, args, false)
	if redis.HasErrorPrefix(eval.Err(), "NOSCRIPT") || shebangRefused(eval.Err()) {
		eval, wait = q.trimAndWait(ctx, c, keys, args, true)
	}
	n, err := eval.Int()
	if err != nil {
		return 0, err
	}
	if n == 1 { // applied (not refused, not a retry of an applied trim)
		acked, werr := wait.Int()
		if werr != nil {
			acked = 0
		}
		q.replicated(acked)
	}
	return n, nil
}

// trimAndWait pipelines the trim script (EVALSHA, or EVAL when load) and
// WAIT.
func (q *Queue) trimAndWait(ctx context.Context, c redis.Cmdable, keys []string, args []any, load bool) (*redis.Cmd, *redis.Cmd) {
	s := trimScript.flagged
	if _, plain := plainClients.Load(q.client); plain {
		s = trimScript.plain
	}
	pipe := c.Pipeline()
	var eval *redis.Cmd
	if load {
		eval = s.Eval(ctx, pipe, keys, args...)
	} else {
		eval = s.EvalSha(ctx, pipe, keys, args...)
	}
	wait := pipe.Do(ctx, "WAIT", q.waitReplicas, q.waitTimeout.Milliseconds())
	_, _ = pipe.Exec(ctx) // each command's error is its own
	if load && shebangRefused(eval.Err()) && s == trimScript.flagged {
		plainClients.Store(q.client, struct{}{})
		return q.trimAndWait(ctx, c, keys, args, true)
	}
	return eval, wait
}

func (q *Queue) replicated(acked int) {
	ok := acked >= q.waitReplicas
	if !ok {
		q.unreplicated.Add(1)
	}
	if q.lagging.Swap(!ok) == ok && q.onReplication != nil {
		q.onReplication(ok, acked, q.waitReplicas)
	}
}

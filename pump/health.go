package pump

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/pumpd/pump/storage"
)

// Health is what the probes report, kept truthful by the loop: liveness
// fails when the loop stops making progress, readiness while starting,
// while Redis fails (saying how: unreachable, out of memory, ...) and from
// the first stop signal on.
type Health struct {
	staleAfter time.Duration
	lastBeat   atomic.Int64
	started    atomic.Bool
	stopping   atomic.Bool
	redisCond  atomic.Int32 // a storage.Condition
	holder     atomic.Bool
	now        func() time.Time
}

// NewHealth returns the state; the loop counts as stuck when it has not
// beaten for staleAfter.
func NewHealth(staleAfter time.Duration) *Health {
	h := &Health{staleAfter: staleAfter, now: time.Now}
	h.Beat()
	return h
}

// Beat records that the loop made progress.
func (h *Health) Beat() { h.lastBeat.Store(h.now().UnixNano()) }

// SetStarted marks start-up as finished.
func (h *Health) SetStarted() { h.started.Store(true) }

// SetStopping marks the stop as begun; readiness fails from now on.
func (h *Health) SetStopping() { h.stopping.Store(true) }

// SetRedisCondition records what the last Redis round trip said and
// returns what it said before.
func (h *Health) SetRedisCondition(c storage.Condition) (prev storage.Condition) {
	return storage.Condition(h.redisCond.Swap(int32(c)))
}

// RedisCondition is what the last Redis round trip said.
func (h *Health) RedisCondition() storage.Condition {
	return storage.Condition(h.redisCond.Load())
}

// SetHolder records whether this instance holds the drain lease.
func (h *Health) SetHolder(held bool) { h.holder.Store(held) }

// Holder reports whether this instance drains the list.
func (h *Health) Holder() bool { return h.holder.Load() }

// Live returns nil while the loop makes progress.
func (h *Health) Live() error {
	since := h.now().Sub(time.Unix(0, h.lastBeat.Load()))
	if since > h.staleAfter {
		return fmt.Errorf("loop stuck: no progress for %v", since.Round(time.Second))
	}
	return nil
}

// Ready returns nil when the pump can do its job.
func (h *Health) Ready() error {
	switch {
	case h.stopping.Load():
		return errors.New("stopping")
	case !h.started.Load():
		return errors.New("starting")
	case h.RedisCondition() != storage.OK:
		return errors.New(redisConditions[h.RedisCondition()].ready)
	}
	return h.Live()
}

// redisCondition is how the pump reports one storage.Condition: in
// readiness, in the line logged when it begins (with the error) and in the
// line logged when it ends.
type redisCondition struct {
	ready, begins, ends string
	// needsWrite: only a write that succeeds ends it (reads succeed
	// meanwhile).
	needsWrite bool
}

var redisConditions = map[storage.Condition]redisCondition{
	storage.OutOfMemory: {"redis out of memory",
		"redis is out of memory (maxmemory, noeviction): producers are refused; draining frees it",
		"redis has memory again", true},
	storage.ReadOnly: {"redis read-only (a replica)",
		"redis refuses writes as a read-only replica (a failover under way, or a replica's address); retrying",
		"redis accepts writes again", true},
	storage.Loading: {"redis loading its dataset",
		"redis is loading its dataset into memory; retrying", "redis finished loading", false},
	storage.AuthFailed: {"redis refused the credentials",
		"redis refused the credentials (NOAUTH, WRONGPASS or NOPERM: check redis.username, redis.password and the ACL user's rights); retrying",
		"redis accepts the credentials again", false},
	storage.Redirected: {"redis cluster redirects",
		"redis redirected the command (MOVED/ASK: a cluster reached as one server needs redis.enable-cluster, or a resharding is under way); retrying",
		"redis no longer redirects", false},
	storage.Unreachable: {"redis unreachable", "redis unreachable; retrying", "redis reachable again", false},
	storage.Other:       {"redis failing", "redis command failed; retrying", "redis answers again", false},
}

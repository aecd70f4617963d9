package pump

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Health is what the probes report, kept truthful by the loop: liveness
// fails when the loop stops making progress, readiness while starting,
// while Redis is unreachable and from the first stop signal on.
type Health struct {
	staleAfter time.Duration
	lastBeat   atomic.Int64
	started    atomic.Bool
	stopping   atomic.Bool
	redisDown  atomic.Bool
	holder     atomic.Bool
	now        func() time.Time
	// PumpsDown, when set (before the server starts), names the pumps that
	// are down: readiness stays ok, since their records are parked, and
	// its answer names them (ReadyNote).
	PumpsDown func() []string
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

// SetRedisReachable records the last Redis round trip's outcome and
// reports whether it changed.
func (h *Health) SetRedisReachable(ok bool) (changed bool) {
	return h.redisDown.Swap(!ok) == ok
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
	case h.redisDown.Load():
		return errors.New("redis unreachable")
	}
	return h.Live()
}

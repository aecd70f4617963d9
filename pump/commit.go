package pump

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/pumpd/pump/pumps"
)

// commitState is an Output's group commit, for a sink that is a
// pumps.Syncer: its writes are durable only after a Sync, and one Sync
// covers every write that returned before it started, so the batches
// written while one Sync ran are covered by the next, together.
type commitState struct {
	writes  atomic.Int64 // writes the sink answered (nil or RejectedError)
	covered atomic.Int64 // of those, the ones a successful Sync covers
	// syncing is held by the one Sync of this sink running at a time (the
	// trimmer's, a replay's); a Sync abandoned at its timeout holds it
	// until the sink returns.
	syncing  chan struct{}
	initOnce sync.Once
}

// commitPoint says that out's write number wrote holds records of a batch.
type commitPoint struct {
	out   *Output
	wrote int64
}

// countWrite numbers a write the sink answered, for s.
func (out *Output) countWrite(s *share) {
	s.wrote = out.commit.writes.Add(1)
}

// commit makes the writes behind points durable before their batch is
// trimmed: for each Syncer not yet covering its point, a Sync.
func (p *Loop) commit(ctx context.Context, points []commitPoint) error {
	for _, c := range points {
		if err := p.syncUpTo(ctx, c.out, c.wrote); err != nil {
			return err
		}
	}
	return nil
}

// syncUpTo returns once a Sync of out covers its write number wrote,
// running one when none does yet. A failed Sync is retried with the
// loop's backoff until ctx ends (errIncomplete): the batches it would
// cover stay at the head meanwhile.
func (p *Loop) syncUpTo(ctx context.Context, out *Output, wrote int64) error {
	sy, ok := out.Sink.(pumps.Syncer)
	if !ok || wrote == 0 {
		return nil
	}
	for attempt := 0; out.commit.covered.Load() < wrote; attempt++ {
		p.health.Beat()
		sctx, cancel := context.WithTimeout(ctx, out.Config.WriteTimeout())
		err := out.sync(sctx, sy, wrote)
		cancel()
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return errIncomplete
		}
		wait := backoff(attempt)
		p.log.Warn("pump sync failed; retrying, its written batches stay at the head until a sync succeeds",
			zap.String("pump", out.Name), zap.Int("attempt", attempt+1), zap.Duration("wait", wait), zap.Error(err))
		if !sleep(ctx, wait) {
			return errIncomplete
		}
	}
	return nil
}

// sync runs one Sync of the sink unless one that ran meanwhile covers
// write number wrote already. It returns by ctx's end whatever the sink
// does, like write.
func (out *Output) sync(ctx context.Context, sy pumps.Syncer, wrote int64) error {
	c := &out.commit
	c.initOnce.Do(func() { c.syncing = make(chan struct{}, 1) })
	select {
	case c.syncing <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("pump %s: the sink is still busy with an abandoned sync: %w", out.Name, errAbandoned)
	}
	if c.covered.Load() >= wrote {
		<-c.syncing
		return nil
	}
	// Every write counted now returned before Sync starts: it covers them.
	upTo := c.writes.Load()
	done := make(chan error, 1)
	go func() {
		defer func() { <-c.syncing }()
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("pump %s panicked in Sync: %v", out.Name, r)
			}
		}()
		err := sy.Sync(ctx)
		if err == nil {
			c.covered.Store(upTo) // syncs run one at a time: upTo only grows
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done:
			return err
		default:
			return fmt.Errorf("pump %s: sync: %w", out.Name, errAbandoned)
		}
	}
}

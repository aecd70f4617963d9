package pump

import (
	"context"
	"errors"
	"sync"

	"go.uber.org/zap"

	"github.com/pumpd/pump/storage"
)

// replayers feed each pump's parked list back to it in the background while
// this instance holds the lease, beside the drain. For a pump that is down
// the replay is its probe: one write at a time, while the drain parks the
// pump's share at once, so the healthy pumps run at their own speed.
type replayers struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startReplay starts one replayer per pump. They stop reading at ctx's end
// or when the lease is lost; their writes and trims in flight are bounded
// by hard.
func (p *Loop) startReplay(ctx, hard context.Context, lease *leaseKeeper) *replayers {
	rctx, cancel := context.WithCancel(ctx)
	r := &replayers{cancel: cancel}
	go func() {
		select {
		case <-lease.lost:
			cancel()
		case <-rctx.Done():
		}
	}()
	for _, out := range p.outputs {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			p.replayParked(rctx, hard, out)
		}()
	}
	return r
}

// stop ends the replayers and waits for them.
func (r *replayers) stop() {
	r.cancel()
	r.wg.Wait()
}

// replayParked replays out's parked list, oldest first, through the one
// delivery path: what the pump takes is trimmed from the list, what it
// refuses goes to the dead list with the reason, and on a transient error
// the records stay parked and the next try waits a backoff. It polls an
// empty list every interval.
func (p *Loop) replayParked(ctx, hard context.Context, out *Output) {
	key := p.queue.ParkedKey(out.Name)
	sz := newSizer(p.cfg.BatchSize, p.cfg.BatchMaxBytes)
	failures := 0
	for {
		wait := p.cfg.Interval
		elems, err := p.peek(hard, key, 0, sz, sz.next())
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			p.redisError(err)
			wait = backoff(failures)
			failures++
		case len(elems) > 0:
			if done, retry := p.replayBatch(hard, out, key, elems); done {
				failures = 0
				continue // the next batch at once
			} else if !retry {
				return
			}
			wait = backoff(failures)
			failures++
		}
		if !sleep(ctx, wait) {
			return
		}
	}
}

// replayBatch delivers one batch of out's parked list and trims it. done
// says it left the list; retry that it stays for a later try.
func (p *Loop) replayBatch(hard context.Context, out *Output, key string, elems [][]byte) (done, retry bool) {
	b := p.decode(elems)
	s := out.newShare(b)
	p.deliver(hard, out, s, deliverPolicy{})
	switch {
	case s.unfinished:
		return false, false
	case len(s.parked) > 0:
		if !out.reportedDown.Swap(true) {
			p.log.Warn("parked records not replayed yet; pump still failing, probing it with one write at a time",
				zap.String("pump", out.Name), zap.String("parked_list", key))
		}
		return false, true
	}
	if p.syncUpTo(hard, out, s.wrote) != nil {
		return false, false // at the shutdown deadline: it stays parked
	}
	t := storage.Trim{Seq: p.queue.NextSeq(), List: key, Batch: b.fp, DeadLetters: append(b.dead, s.dead...), MaxLen: p.cfg.DeadLetterMaxLen}
	for attempt := 0; ; attempt++ {
		err := p.queue.Apply(hard, t)
		switch {
		case err == nil:
			p.redisOK()
			out.Stats.Replayed.Add(int64(s.written))
			out.Stats.Filtered.Add(int64(len(b.records) - len(s.recs)))
			p.log.Info("replayed parked records", zap.String("pump", out.Name), zap.Int("records", s.written),
				zap.Int("dead_lettered", len(t.DeadLetters)))
			return true, false
		case errors.Is(err, storage.ErrLeaseLost), errors.Is(err, storage.ErrHeadChanged), hard.Err() != nil:
			p.log.Warn("parked batch written but not trimmed; it will be written again", zap.String("pump", out.Name), zap.Error(err))
			return false, false
		}
		p.redisError(err)
		if !sleep(hard, backoff(attempt)) {
			return false, false
		}
	}
}

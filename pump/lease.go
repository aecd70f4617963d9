package pump

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/pumpd/pump/storage"
)

// LeaseShare is what the loops of one daemon know of each other's leases,
// so that several instances spread their sources between them instead of
// the first one up taking every lease:
//   - a loop whose daemon holds no lease takes a free one at once; one whose
//     daemon holds k waits until it has seen the lease free for k half
//     TTLs, time for an instance holding fewer (polling every quarter TTL)
//     to take it;
//   - a daemon holding more than its share (its sources over the instances
//     present, rounded up) gives one back after a drain, and leaves it to
//     the others for one TTL.
//
// A dead instance's leases lapse after their TTL (at once for a dead
// process of this host) and are taken over like any free lease.
type LeaseShare struct {
	mu      sync.Mutex // also makes the loops try their leases one at a time
	held    int
	sources int
}

// NewLeaseShare returns the share of a daemon that drains sources sources.
func NewLeaseShare(sources int) *LeaseShare { return &LeaseShare{sources: sources} }

// tryLease takes the lease if it is free and this daemon's turn (see
// LeaseShare), or renews it.
func (p *Loop) tryLease(ctx context.Context) *leaseKeeper {
	p.share.mu.Lock()
	defer p.share.mu.Unlock()
	if time.Now().Before(p.leftUntil) {
		return nil // given back to the others for a while
	}
	if others := p.share.held; others > 0 {
		holder, err := p.queue.Holder(ctx)
		if err != nil {
			p.redisError(err)
			return nil
		}
		if holder != "" {
			p.freeSince = time.Time{} // Acquire below may still take a dead holder's over
		} else {
			if p.freeSince.IsZero() {
				p.freeSince = time.Now()
			}
			if time.Since(p.freeSince) < time.Duration(others)*p.queue.TTL()/2 {
				return nil
			}
		}
	}
	ok, err := p.queue.Acquire(ctx)
	if err != nil {
		p.redisError(err)
		return nil
	}
	p.redisOK()
	if !ok {
		if p.health.Holder() || !p.standbyLogged {
			holder, _ := p.queue.Holder(ctx)
			what := "another instance drains the list; standing by"
			if p.stream != nil {
				what = "another instance replays the stream's parked lists; draining the group's share"
			}
			p.log.Info(what, zap.String("key", p.queue.Key()), zap.String("holder", holder))
			p.standbyLogged = true
		}
		return nil
	}
	p.standbyLogged = false
	p.freeSince = time.Time{}
	p.acquisitions.Add(1)
	p.share.held++
	p.health.SetHolder(true)
	p.log.Info("holding the drain lease", zap.String("key", p.queue.Key()), zap.String("token", p.queue.Token()))
	return startLeaseKeeper(p.queue, p.log, p.redisError)
}

// releaseLease gives the lease back, if held, for a standby to take at
// once.
func (p *Loop) releaseLease() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := p.queue.Release(ctx); err != nil {
		p.log.Warn("could not release the drain lease; it lapses by itself", zap.Error(err))
	}
	p.notHolding()
}

// leave takes this run out of the count of instances, at a stop.
func (p *Loop) leave() {
	if p.share.sources < 2 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := p.queue.Absent(ctx); err != nil {
		p.log.Warn("could not leave the count of instances; this run lapses from it by itself", zap.Error(err))
	}
}

// notHolding records that this loop's lease is gone (released or lost).
func (p *Loop) notHolding() {
	if p.health.Holder() {
		p.share.mu.Lock()
		p.share.held--
		p.share.mu.Unlock()
	}
	p.health.SetHolder(false)
}

// present counts this run in for the source's lease share and returns
// whether the daemon holds more than its share now, taking this loop's
// lease out of the count when so: the caller gives it back. A failed
// count changes nothing.
func (p *Loop) present(ctx context.Context, holding bool) (giveBack bool) {
	if p.share.sources < 2 {
		return false // one lease is every daemon's share: no count, no key
	}
	// Counted in until two of this loop's rounds were missed.
	live, err := p.queue.Present(ctx, 2*max(p.queue.TTL(), p.cfg.Interval))
	if err != nil {
		p.redisError(err)
		return false
	}
	if !holding || live < 2 {
		return false
	}
	p.share.mu.Lock()
	defer p.share.mu.Unlock()
	fair := (p.share.sources + live - 1) / live
	if p.share.held <= fair {
		return false
	}
	p.log.Info("giving the lease back: this instance holds more than its share",
		zap.String("key", p.queue.Key()), zap.Int("held", p.share.held), zap.Int("sources", p.share.sources), zap.Int("instances", live))
	p.leftUntil = time.Now().Add(p.queue.TTL())
	return true
}

// leaseKeeper renews the lease every TTL/4 while this instance holds it.
type leaseKeeper struct {
	lost     chan struct{}
	lostOnce sync.Once
	done     chan struct{}
	stopped  chan struct{}
}

func startLeaseKeeper(q *storage.Queue, log *zap.Logger, onErr func(error)) *leaseKeeper {
	k := &leaseKeeper{lost: make(chan struct{}), done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(k.stopped)
		t := time.NewTicker(q.TTL() / 4)
		defer t.Stop()
		lastRenewed := time.Now()
		for {
			select {
			case <-k.done:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), q.TTL()/4)
			err := q.Renew(ctx)
			cancel()
			switch {
			case err == nil:
				lastRenewed = time.Now()
			case errors.Is(err, storage.ErrLeaseLost):
				k.markLost()
				return
			default:
				onErr(err)
				// Unrenewed past the TTL the lease may be another's: stop
				// trusting it (the trim script would refuse anyway).
				if time.Since(lastRenewed) > q.TTL() {
					log.Warn("lease not renewed within its TTL", zap.Error(err))
					k.markLost()
					return
				}
			}
		}
	}()
	return k
}

func (k *leaseKeeper) markLost() { k.lostOnce.Do(func() { close(k.lost) }) }

func (k *leaseKeeper) isLost() bool {
	select {
	case <-k.lost:
		return true
	default:
		return false
	}
}

func (k *leaseKeeper) stop() {
	select {
	case <-k.done:
	default:
		close(k.done)
	}
	<-k.stopped
}

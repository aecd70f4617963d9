package pump

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/pumpd/pump/storage"
)

func (p *Loop) tryLease(ctx context.Context) *leaseKeeper {
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
	p.acquisitions.Add(1)
	p.health.SetHolder(true)
	p.log.Info("holding the drain lease", zap.String("key", p.queue.Key()), zap.String("token", p.queue.Token()))
	return startLeaseKeeper(p.queue, p.log, p.redisError)
}

func (p *Loop) releaseLease() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := p.queue.Release(ctx); err != nil {
		p.log.Warn("could not release the drain lease; it lapses by itself", zap.Error(err))
	}
	p.health.SetHolder(false)
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

package pump

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/pumpd/pump/storage"
)

// watchRedis keeps readiness truthful while the loop is idle.
func (p *Loop) watchRedis(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := p.queue.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			p.redisError(err)
		} else {
			p.redisReadOK()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// redisError records what a failed command says about Redis, logging it
// once when it begins (and again only when it turns into another one).
func (p *Loop) redisError(err error) {
	c := storage.Classify(err)
	kind := causeKind(err)
	p.causesMu.Lock()
	defer p.causesMu.Unlock()
	if p.health.SetRedisCondition(c) != c {
		p.causes = map[string]bool{kind: true}
		p.log.Error(redisConditions[c].begins, zap.String("redis_state", c.String()), zap.Error(err))
		return
	}
	// The same outage with another kind of cause (a timeout first, then
	// the certificate the server showed) is said once more, so the line
	// that names the real cause is never hidden behind the first one.
	if !p.causes[kind] {
		if p.causes == nil {
			p.causes = map[string]bool{}
		}
		p.causes[kind] = true
		p.log.Error(redisConditions[c].begins, zap.String("redis_state", c.String()), zap.Error(err))
	}
}

// causeKind groups errors of one Redis condition by what an operator would
// do about them.
func causeKind(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "tls:"):
		return "tls"
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "i/o timeout"):
		return "timeout"
	case strings.Contains(msg, "refused"):
		return "refused"
	}
	return "other"
}

// redisOK records a write (or any command) that succeeded: whatever Redis
// failed with has ended.
func (p *Loop) redisOK() { p.redisEnded(false) }

// redisReadOK records a read that succeeded: it ends every condition but
// those that refuse only writes (out of memory, read-only), which a read
// cannot tell gone; else the ping would end them every second.
func (p *Loop) redisReadOK() { p.redisEnded(true) }

func (p *Loop) redisEnded(read bool) {
	cur := p.health.RedisCondition()
	if cur == storage.OK || read && redisConditions[cur].needsWrite {
		return
	}
	if p.health.SetRedisCondition(storage.OK) == cur {
		p.log.Info(redisConditions[cur].ends, zap.String("redis_state", cur.String()))
	}
}

// backoff returns the wait before attempt n (from 0): exponential from
// 100ms up to 5s, with full jitter so instances do not retry in step.
func backoff(n int) time.Duration {
	d := 100 * time.Millisecond << min(n, 6)
	d = min(d, 5*time.Second)
	return d/2 + rand.N(d/2+1)
}

// sleep waits d or until ctx ends; it reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

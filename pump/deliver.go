package pump

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/pumps"
)

// errAbandoned says a write did not return by its timeout: the sink ignores
// its context (a FIFO nobody reads, a hung NFS mount). The write is left
// running; its records count as not written.
var errAbandoned = errors.New("write did not return by its timeout; left running")

// write initialises the sink when it still needs it, then writes, up to
// the pump's workers writes of this sink at a time (the drain's and the
// parked replay's share the slots). It returns by ctx's end whatever the
// sink does: a write still running then is abandoned (it keeps its busy
// slot until it returns) and reported as errAbandoned. A panic in the sink
// is a permanent error of this write, not the end of the daemon.
func (out *Output) write(ctx context.Context, recs []analytics.Record) error {
	out.busyOnce.Do(func() { out.busy = make(chan struct{}, out.Config.Writers()) })
	select {
	case out.busy <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("pump %s: the sink is still busy with an abandoned write: %w", out.Name, errAbandoned)
	}
	done := make(chan error, 1)
	go func() {
		defer func() { <-out.busy }()
		defer func() {
			if r := recover(); r != nil {
				done <- pumps.Permanent(fmt.Errorf("pump %s panicked: %v", out.Name, r))
			}
		}()
		if out.NeedsInit.Load() {
			out.initMu.Lock()
			var err error
			if out.NeedsInit.Load() { // not done by another write meanwhile
				if err = out.Sink.Init(ctx); err == nil {
					out.NeedsInit.Store(false)
				}
			}
			out.initMu.Unlock()
			if err != nil {
				done <- fmt.Errorf("start pump %s: %w", out.Name, err)
				return
			}
		}
		done <- out.Sink.Write(ctx, recs)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done: // it did return, just now
			return err
		default:
			return fmt.Errorf("pump %s: %w", out.Name, errAbandoned)
		}
	}
}

// share is one pump's part of a batch and what became of it.
type share struct {
	recs []analytics.Record // the pump's view: filtered, details omitted
	raws [][]byte           // the original bytes of each of recs
	src  []int              // the batch's raws index of each of recs
	// What the delivery did with them: written, dead-lettered (the
	// envelopes), parked (their raws), or none of these when it ended
	// unfinished (the stop deadline, a lost lease).
	written    int
	dead       [][]byte
	deadSrc    []int // the batch's raws index of each of dead
	parked     [][]byte
	unfinished bool
	abandoned  bool // a write was left running: recs must stay untouched
	// wrote numbers the write that took recs (countWrite); 0 when none
	// did. A Syncer's batch is trimmed only once a Sync covers it.
	wrote int64
}

// deliverPolicy says how hard to try before parking.
type deliverPolicy struct {
	budget time.Duration // retries of transient errors within this time
	// parkWhenDown parks at once, without a write, while the pump is down:
	// the parked replay probes it, so a down pump costs the others nothing.
	parkWhenDown bool
}

// deliver is the one delivery path of the drain, the parked replay and the
// dead-letter replay: it writes s to out, retrying transient errors within
// the policy's budget, and classifies what the sink said: written; these
// records refused (dead letters); the batch refused (dead letters);
// transient past the budget (parked). It stops, unfinished, when hard ends.
func (p *Loop) deliver(hard context.Context, out *Output, s *share, pol deliverPolicy) {
	if len(s.recs) == 0 {
		return
	}
	if pol.parkWhenDown && out.parking.Load() {
		p.park(out, s, 0, nil)
		return
	}
	deadline := time.Now().Add(pol.budget)
	for attempt := 0; ; attempt++ {
		p.health.Beat()
		wctx, cancel := context.WithTimeout(hard, out.Config.WriteTimeout())
		began := time.Now()
		err := out.write(wctx, s.recs)
		p.metrics.writeDuration.WithLabelValues(out.Name).Observe(time.Since(began).Seconds())
		cancel()
		if errors.Is(err, errAbandoned) {
			s.abandoned = true
		}
		var rejected *pumps.RejectedError
		switch {
		case err == nil:
			out.countWrite(s)
			s.written = len(s.recs)
			out.Stats.Written.Add(int64(s.written))
			p.markUp(out)
			return
		case errors.As(err, &rejected):
			out.countWrite(s)
			refused := 0
			for _, rj := range rejected.Rejections {
				if rj.Index >= 0 && rj.Index < len(s.raws) {
					s.dead = append(s.dead, p.deadLetter(out.Name, rj.Err.Error(), s.raws[rj.Index]))
					s.deadSrc = append(s.deadSrc, s.src[rj.Index])
					refused++
				}
			}
			s.written = len(s.recs) - refused
			out.Stats.Dead.Add(int64(refused))
			out.Stats.Written.Add(int64(s.written))
			p.markUp(out)
			p.log.Warn("pump rejected records; dead-lettered", zap.String("pump", out.Name),
				zap.Int("rejected", refused), zap.Error(err))
			return
		case pumps.IsPermanent(err):
			for j, raw := range s.raws {
				s.dead = append(s.dead, p.deadLetter(out.Name, err.Error(), raw))
				s.deadSrc = append(s.deadSrc, s.src[j])
			}
			out.Stats.Dead.Add(int64(len(s.raws)))
			p.log.Error("pump refused the batch for good; dead-lettered", zap.String("pump", out.Name),
				zap.Int("records", len(s.raws)), zap.Error(err))
			return
		case hard.Err() != nil:
			s.unfinished = true
			return
		}
		wait := backoff(attempt)
		if time.Now().Add(wait).After(deadline) {
			p.park(out, s, attempt+1, err)
			return
		}
		p.log.Warn("pump write failed; retrying", zap.String("pump", out.Name),
			zap.Int("records", len(s.recs)), zap.Int("attempt", attempt+1), zap.Duration("wait", wait), zap.Error(err))
		if !sleep(hard, wait) {
			s.unfinished = true
			return
		}
	}
}

// park sets s aside in out's parked list and marks out down, logging the
// first parking of an outage with the error that caused it.
func (p *Loop) park(out *Output, s *share, attempts int, err error) {
	s.parked = s.raws // counted in Stats.Parked once trimmed into the parked list
	if !out.parking.Swap(true) {
		p.log.Error("pump is down; parking its records until a replay write succeeds", zap.String("pump", out.Name),
			zap.Int("records", len(s.raws)), zap.Int("attempts", attempts),
			zap.String("parked_list", p.queue.ParkedKey(out.Name)), zap.Error(err))
	}
}

// markUp records a write the sink answered: out is not down (any more).
func (p *Loop) markUp(out *Output) {
	if out.parking.Swap(false) {
		out.reportedDown.Store(false)
		p.log.Info("pump writes again; its parked records are being replayed", zap.String("pump", out.Name))
	}
}

func (p *Loop) deadLetter(pump, reason string, raw []byte) []byte {
	return p.letter(DeadLetter{Reason: reason, Pump: pump, Raw: raw})
}

// letter stamps d with the time and the source's key and encodes it.
func (p *Loop) letter(d DeadLetter) []byte {
	d.Time = time.Now().UTC()
	d.Key = p.queue.Key()
	return d.Encode()
}

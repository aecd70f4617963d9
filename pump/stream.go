package pump

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pumpd/pump/storage"
)

// streamFeed is where a drain's batches come from for a stream source: the
// entries its consumer group hands to this instance (XREADGROUP), and those
// it takes over from consumers that stopped acknowledging (XAUTOCLAIM).
// Every instance of the group drains at once, each its own entries; no
// lease is needed, since the group gives each entry to one consumer.
type streamFeed struct {
	p *Loop
	s *storage.Stream

	mu sync.Mutex
	// mine are the entries read and not yet settled: a claim must not take
	// them again from this very consumer while a slow write holds them.
	mine      map[string]struct{}
	lastClaim time.Time
}

func newStreamFeed(p *Loop, s *storage.Stream) *streamFeed {
	return &streamFeed{p: p, s: s, mine: map[string]struct{}{}}
}

// next takes over idle entries of other consumers first, every half
// claim-idle, then reads new ones. Entries without the data field and
// entries delivered more than max-deliveries times come as dead letters.
func (f *streamFeed) next(ctx context.Context, sz *sizer) (chunk, error) {
	n := sz.next()
	if time.Since(f.lastClaim) >= f.p.cfg.ClaimIdle/2 {
		claimed, err := f.s.Claim(ctx, f.p.cfg.ClaimIdle, n)
		if err != nil {
			return chunk{}, err
		}
		c := f.chunkOf(claimed, sz)
		if !c.empty() {
			return c, nil // more may be idle: claim again before reading
		}
		f.lastClaim = time.Now()
	}
	entries, err := f.s.Read(ctx, n, 0)
	if err != nil {
		return chunk{}, err
	}
	return f.chunkOf(entries, sz), nil
}

func (f *streamFeed) chunkOf(entries []storage.Entry, sz *sizer) chunk {
	f.mu.Lock()
	defer f.mu.Unlock()
	var c chunk
	var deadIDs []string
	var total int64
	limit := f.p.cfg.MaxDeliveries
	for _, e := range entries {
		if _, ours := f.mine[e.ID]; ours {
			continue // claimed back from ourselves: already in flight here
		}
		f.mine[e.ID] = struct{}{}
		switch {
		case e.Data == nil:
			c.dead = append(c.dead, f.p.letter(DeadLetter{Reason: fmt.Sprintf("stream entry has no field %q", f.s.Field()),
				Raw: storage.EncodeFields(e.Fields), ID: e.ID, Deliveries: e.Deliveries}))
			deadIDs = append(deadIDs, e.ID)
		case limit > 0 && e.Deliveries > limit:
			c.dead = append(c.dead, f.p.letter(DeadLetter{Reason: fmt.Sprintf("delivered %d times, more than max-deliveries %d", e.Deliveries, limit),
				Raw: e.Data, ID: e.ID, Deliveries: e.Deliveries}))
			deadIDs = append(deadIDs, e.ID)
		default:
			c.raws = append(c.raws, e.Data)
			c.ids = append(c.ids, e.ID)
			total += int64(len(e.Data))
		}
	}
	sz.learn(total, len(c.raws))
	c.ids = append(c.ids, deadIDs...)
	return c
}

// settle acknowledges b's entries with its dead letters and parked records
// in one script, which also trims what every group has acknowledged.
func (f *streamFeed) settle(ctx context.Context, b *batch) error {
	err := f.s.Ack(ctx, storage.StreamAck{IDs: b.ids, DeadLetters: b.dead, Parked: b.parked, MaxLen: f.p.cfg.DeadLetterMaxLen})
	if err == nil {
		f.mu.Lock()
		for _, id := range b.ids {
			delete(f.mine, id)
		}
		f.mu.Unlock()
	}
	return err
}

// drainStream creates the group when it is missing, then drains what the
// group gives this consumer.
func (p *Loop) drainStream(ctx, hard context.Context) error {
	if !p.groupReady {
		if err := p.stream.Ensure(ctx); err != nil {
			p.redisError(err)
			return err
		}
		p.groupReady = true
	}
	return p.drain(ctx, hard, newStreamFeed(p, p.stream), nil)
}

// Backlog is what the source holds: the list's length, or the stream's
// entries not yet trimmed (read or not).
func (p *Loop) Backlog(ctx context.Context) (int64, error) {
	if p.stream != nil {
		return p.stream.Len(ctx)
	}
	return p.queue.Len(ctx, p.queue.Key())
}

package pump

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/pumpd/pump/filter"
	"github.com/pumpd/pump/storage"
)

// drainStats is what one drain did, for its log line.
type drainStats struct {
	batches, records int
	dead, parked     int
}

func (st *drainStats) add(b *batch) {
	st.batches++
	st.records += b.n
	st.dead += len(b.dead)
	for _, r := range b.parked {
		st.parked += len(r)
	}
}

// drain reads f until it is empty or ctx ends, keeping up to read-ahead
// batches in flight, and settles them in order as every pump finishes. A
// close of lost (the lease's) aborts it with storage.ErrLeaseLost; for a
// list it returns storage.ErrHeadChanged too when it had to stop trimming.
// What was not settled stays in the source: at the head of the list, or
// pending in the stream's group.
func (p *Loop) drain(ctx, hard context.Context, f feed, lost <-chan struct{}) error {
	start := time.Now()
	prog := p.startProgress() // "draining" lines until the end line
	d := p.newDrainRun(ctx, hard, f)
	defer d.cancelAbort(nil)
	go func() {
		select {
		case <-lost:
			d.cancelAbort(storage.ErrLeaseLost)
		case <-d.abort.Done():
		}
	}()
	d.startWorkers()
	go d.readStage()
	go d.decodeStage()
	st, err := d.trimStage()
	d.workers.Wait()
	prog.Stop()
	if err == nil {
		p.lastDrain.Store(time.Now().UnixNano())
		p.progressed() // the list was found empty
	}
	// Why the drain was aborted (a lost lease, a refused trim) says more
	// than the unfinished batches it left behind.
	if cause := context.Cause(d.abort); cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	if st.records > 0 || err != nil {
		p.logDrain(start, st, err)
	}
	return err
}

// feed is where a drain's batches come from and where they go once every
// pump has them: listFeed for a list (window.go), streamFeed for a
// stream's consumer group (stream.go).
type feed interface {
	// next reads the batch after those read so far, bounded by sz; an
	// empty one means there is nothing more for now.
	next(ctx context.Context, sz *sizer) (chunk, error)
	// settle removes the oldest unsettled batch from the source, with its
	// dead letters and parked records, in one attempt.
	settle(ctx context.Context, b *batch) error
}

// drainRun is one drain: four stages and the channels between them,
//
//	readStage ─raw─▶ decodeStage ─toPump[i]─▶ worker i ─▶ batch.done
//	                      └────────trimQ (read order)────▶ trimStage
//
// with a slot per batch in flight, taken by the reader and given back once
// every pump wrote the batch, and the batches' bytes counted against
// read-ahead-bytes until then, bounding memory: small records fill the
// window's slots, big ones its bytes. A written batch holds no records
// while it waits for its sync and trim (a file sink's group commit covers
// the batches written meanwhile): trimQ alone bounds those, to
// UntrimmedBatches.
type drainRun struct {
	p    *Loop
	feed feed
	// ctx stops the reader (the stop signal); abort stops every stage (a
	// lost lease, a refused trim, the shutdown deadline through hard).
	ctx         context.Context
	abort       context.Context
	cancelAbort context.CancelCauseFunc

	slots   chan struct{}
	inBytes atomic.Int64  // of the batches read and not yet trimmed
	freed   chan struct{} // a trim gave back bytes (one wake-up pending at most)
	raw     chan chunk
	trimQ   chan *batch
	toPump  []chan *batch
	workers sync.WaitGroup
}

// UntrimmedBatches is the most batches a drain with read-ahead n has
// written and not yet trimmed: up to n being read and written, and the
// written ones waiting for their sync and trim. A crash leaves at most
// these at the head, for the next holder to write again.
func UntrimmedBatches(n int) int { return 4 * n }

func (p *Loop) newDrainRun(ctx, hard context.Context, f feed) *drainRun {
	abort, cancel := context.WithCancelCause(hard)
	n := p.cfg.ReadAhead
	// The trimmer holds one batch besides those in trimQ, and every batch
	// handed to the pumps is in one of the two.
	d := &drainRun{p: p, feed: f, ctx: ctx, abort: abort, cancelAbort: cancel,
		slots: make(chan struct{}, n), freed: make(chan struct{}, 1), raw: make(chan chunk, 1), trimQ: make(chan *batch, UntrimmedBatches(n)-1),
		toPump: make([]chan *batch, len(p.outputs))}
	for i := range d.toPump {
		d.toPump[i] = make(chan *batch, n)
	}
	return d
}

// readStage reads the next batch while earlier ones are decoded and
// written. It stops at an empty read, at the stop signal or on abort, and
// retries Redis errors with a backoff.
func (d *drainRun) readStage() {
	defer close(d.raw)
	p := d.p
	sz := newSizer(p.cfg.BatchSize, p.cfg.BatchMaxBytes) // bounds each slot in bytes too
	for attempt := 0; ; {
		select {
		case d.slots <- struct{}{}:
		case <-d.ctx.Done():
			return
		case <-d.abort.Done():
			return
		}
		if d.ctx.Err() != nil || d.abort.Err() != nil || !d.waitForBytes(sz) {
			<-d.slots
			return
		}
		c, err := d.feed.next(d.abort, sz)
		p.health.Beat()
		if err != nil {
			<-d.slots
			if d.abort.Err() != nil {
				return
			}
			p.redisError(err)
			if !sleep(d.ctx, backoff(attempt)) {
				return
			}
			attempt++
			continue
		}
		attempt = 0
		p.redisReadOK()
		if c.empty() {
			<-d.slots
			return
		}
		p.inFlight.Add(1)
		c.held = c.size()
		d.inBytes.Add(c.held)
		d.raw <- c
	}
}

// waitForBytes waits until the window's bytes leave room for a fair share
// of read-ahead-bytes (or for the next record, when that is bigger; or
// the whole window for a record over the batch budget), then bounds the
// next read to the room. An empty window always has room for a full batch
// (the loop's read-ahead-bytes is at least batch-max-bytes), so a read
// never waits for itself. It returns false when the reader must stop.
func (d *drainRun) waitForBytes(sz *sizer) bool {
	limit := d.p.cfg.ReadAheadBytes
	if limit <= 0 {
		limit = int64(cap(d.slots)) * sz.maxBytes // Settings without it: read-ahead full batches
	}
	need := max(min(limit/int64(cap(d.slots)), sz.maxBytes), sz.nextRecord())
	if sz.needsEmptyWindow() {
		need = limit
	}
	for {
		inFlight := d.inBytes.Load()
		room := limit - inFlight
		if inFlight == 0 || room >= need {
			sz.bound(room)
			return true
		}
		select {
		case <-d.freed:
		case <-d.ctx.Done():
			return false
		case <-d.abort.Done():
			return false
		}
	}
}

// giveBack returns a trimmed batch's bytes to the window and wakes a reader
// waiting for them.
func (d *drainRun) giveBack(n int64) {
	d.inBytes.Add(-n)
	select {
	case d.freed <- struct{}{}:
	default:
	}
}

// decodeStage decodes each batch and hands it to every pump's worker and,
// in read order, to the trimmer, so the next read overlaps this work.
func (d *drainRun) decodeStage() {
	p := d.p
	defer func() {
		close(d.trimQ)
		for _, w := range d.toPump {
			close(w)
		}
	}()
	for c := range d.raw {
		b := p.decodeChunk(c)
		if p.shareJSON {
			p.shareEncoding(b)
		}
		p.read.Add(int64(len(c.raws)))
		p.metrics.batchSize.Observe(float64(len(c.raws)))
		b.pending = len(p.outputs)
		d.trimQ <- b
		for _, w := range d.toPump {
			w <- b
		}
	}
}

// startWorkers starts a pump's workers (pumps.<name>.workers, 1 unless its
// sink is pumps.Concurrent): each delivers the pump's share of the next
// batch through the one delivery path and records the outcome. Batches
// may finish out of order; the trimmer still settles them in read order.
func (d *drainRun) startWorkers() {
	for i, out := range d.p.outputs {
		for range out.Config.Writers() {
			d.workers.Add(1)
			go func(in <-chan *batch) {
				defer d.workers.Done()
				pol := deliverPolicy{budget: out.Config.MaxRetryTime.D(), parkWhenDown: true}
				for b := range in {
					s := out.newShare(b)
					out.Stats.Filtered.Add(int64(len(b.records) - len(s.recs)))
					d.p.deliver(d.abort, out, s, pol)
					last := b.finish(out, s)
					out.recycle(s)
					if last {
						d.written(b)
						close(b.done)
					}
				}
			}(d.toPump[i])
		}
	}
}

// written runs once every pump is done with b, before its done closes.
// Unless a sink may still read them (an abandoned write), b's records,
// their JSON and its raw elements go: its sync and trim need only its
// count, fingerprint and ids. So b gives back its read-ahead slot and the
// window's bytes but those of its dead letters and parked records.
func (d *drainRun) written(b *batch) {
	if b.abandoned {
		return
	}
	d.p.recycle(b)
	d.p.spareRecs.put(b.records)
	d.p.spareInts.put(b.rawIdx)
	b.records, b.rawIdx, b.requests, b.raws = nil, nil, filter.Requests{}, nil
	b.released = b.held - min(b.keptBytes(), b.held)
	b.slotFreed = true
	d.giveBack(b.released)
	<-d.slots
}

// trimStage settles the batches in read order, each once every pump is done
// with it. After the first failure it settles nothing more: the batches
// left stay at the head of the list for the next drain or holder.
func (d *drainRun) trimStage() (drainStats, error) {
	p := d.p
	var st drainStats
	var trimErr error
	for b := range d.trimQ {
		if trimErr == nil {
			trimErr = d.trimWhenDone(b)
			if trimErr != nil {
				d.cancelAbort(trimErr)
			} else {
				st.add(b)
			}
		} else {
			<-b.done // the pumps see abort and give up; then b is settled here
		}
		p.inFlight.Add(-1)
		if trimErr != nil {
			p.untrimmed.Add(int64(b.n))
		}
		d.giveBack(b.held - b.released)
		if !b.slotFreed {
			<-d.slots
		}
	}
	return st, trimErr
}

// trimWhenDone waits for every pump to finish b and for a sync of each
// Syncer that wrote it (one sync covers the batches written while the last
// ran), then settles it, retrying Redis errors until the shutdown deadline.
func (d *drainRun) trimWhenDone(b *batch) error {
	p := d.p
	select {
	case <-b.done:
	case <-d.abort.Done():
		// Pumps still writing see abort too; wait for them to give up.
		<-b.done
	}
	if b.incomplete {
		return errIncomplete
	}
	if err := p.commit(d.abort, b.commits); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err := d.feed.settle(d.abort, b)
		p.health.Beat()
		switch {
		case err == nil:
			p.redisOK()
			p.progressed()
			return nil
		case errors.Is(err, storage.ErrLeaseLost), errors.Is(err, storage.ErrHeadChanged):
			return err
		case d.abort.Err() != nil:
			return errIncomplete
		}
		p.redisError(err)
		if !sleep(d.abort, backoff(attempt)) {
			return errIncomplete
		}
	}
}

func (p *Loop) logDrain(start time.Time, st drainStats, err error) {
	fields := []zap.Field{
		zap.Int("records", st.records), zap.Int("batches", st.batches),
		zap.Int("dead_lettered", st.dead), zap.Int("parked", st.parked),
		zap.Duration("took", time.Since(start).Round(time.Millisecond)),
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if n, lerr := p.Backlog(ctx); lerr == nil {
		fields = append(fields, zap.Int64("backlog", n))
	}
	if n, lerr := p.queue.Len(ctx, p.queue.DeadKey()); lerr == nil && n > 0 {
		fields = append(fields, zap.Int64("dead_letter_list", n))
		if max := p.cfg.DeadLetterMaxLen; max > 0 && n >= max {
			p.log.Error("dead-letter list at its cap: the oldest dead letters are being dropped for good",
				zap.Int64("dead-letter-max-len", max), zap.String("list", p.queue.DeadKey()))
		}
	}
	fields = append(fields, PumpsField(p.outputs, func(_ int, out *Output) []zap.Field {
		f := []zap.Field{zap.Int64("written", out.Stats.Written.Load())}
		if n, lerr := p.queue.Len(ctx, p.queue.ParkedKey(out.Name)); lerr == nil && n > 0 {
			f = append(f, zap.Int64("parked_list", n))
		}
		return f
	}))
	switch {
	case errors.Is(err, errIncomplete):
		p.log.Warn("drain stopped at the shutdown deadline; the rest stays at the head", fields...)
	case err != nil:
		p.log.Warn("drain stopped", append(fields, zap.Error(err))...)
	default:
		p.log.Info("drained", fields...)
	}
}

var errIncomplete = errors.New("batch not finished before the shutdown deadline")

package pump

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/filter"
	"github.com/pumpd/pump/storage"
)

// batch is one read of the head, shared read-only by the pumps; each pump
// works on its own view of it.
type batch struct {
	raws    [][]byte
	fp      storage.Fingerprint
	records []analytics.Record
	rawIdx  []int  // raws index of each record
	json    []byte // holds the records' shared JSON, reused once b is trimmed
	// requests are the records' parsed requests, for the filter
	// expressions of every pump.
	requests filter.Requests

	mu         sync.Mutex
	dead       [][]byte
	parked     map[string][][]byte
	incomplete bool
	abandoned  bool // a sink may still read records: keep b's JSON buffer out of reuse
	pending    int
	done       chan struct{}
	// commits are the writes that hold b's records, to sync before the trim.
	commits []commitPoint
}

// finish records one pump's share of b; the last one closes done.
func (b *batch) finish(out *Output, s *share) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dead = append(b.dead, s.dead...)
	if len(s.parked) > 0 {
		if b.parked == nil {
			b.parked = map[string][][]byte{}
		}
		b.parked[out.Name] = s.parked
		out.Stats.Parked.Add(int64(len(s.parked)))
	}
	b.incomplete = b.incomplete || s.unfinished
	b.abandoned = b.abandoned || s.abandoned
	if s.wrote > 0 {
		b.commits = append(b.commits, commitPoint{out, s.wrote})
	}
	b.pending--
	if b.pending == 0 {
		close(b.done)
	}
}

func (p *Pump) decode(raws [][]byte) *batch {
	b := &batch{raws: raws, fp: storage.FingerprintOf(raws), records: make([]analytics.Record, 0, len(raws)),
		rawIdx: make([]int, 0, len(raws)), done: make(chan struct{})}
	for i, raw := range raws {
		rec, err := analytics.DecodeShared(raw)
		if err != nil {
			p.decodeFailed.Add(1)
			b.dead = append(b.dead, p.deadLetter("", err.Error(), raw))
			continue
		}
		b.records = append(b.records, rec)
		b.rawIdx = append(b.rawIdx, i)
	}
	return b
}

// shareEncoding encodes b's records once for all the JSON pumps, in a spare
// buffer when there is one.
func (p *Pump) shareEncoding(b *batch) {
	var buf []byte
	select {
	case buf = <-p.jsonBufs:
	default:
	}
	b.json = encodeJSON(b.records, buf)
}

// recycle keeps b's JSON buffer for a later batch. Call it only when no
// pump holds b's records any more.
func (p *Pump) recycle(b *batch) {
	if b.json == nil {
		return
	}
	select {
	case p.jsonBufs <- b.json[:0]:
	default:
	}
	b.json = nil
}

// encodeJSON sets each record's JSON, all in buf (grown when too small) and
// returns it. A record that cannot be encoded keeps none, so each pump
// rejects it with the error.
func encodeJSON(recs []analytics.Record, buf []byte) []byte {
	size := 0
	for i := range recs {
		// JSON adds the field names and escapes the request's quotes.
		size += len(recs[i].Raw)*5/4 + 160
	}
	// size is generous: a spare buffer a little smaller still fits, and
	// append grows it in the rare case it does not.
	if cap(buf) < size*4/5 {
		buf = make([]byte, 0, size)
	}
	buf = buf[:0]
	for i := range recs {
		start := len(buf)
		out, err := analytics.AppendJSON(buf, &recs[i])
		if err != nil {
			continue
		}
		// Should append grow buf, earlier records keep the old array.
		buf = out
		recs[i].JSON = buf[start:len(buf):len(buf)]
	}
	return buf
}

// drainStats is what one drain did, for its log line.
type drainStats struct {
	batches, records int
	dead, parked     int
}

// drain reads the list until it is empty or ctx ends, keeping up to
// read-ahead batches in flight, and trims them in order as every pump
// finishes. It returns storage.ErrLeaseLost or storage.ErrHeadChanged when
// it had to stop trimming; the un-trimmed batches stay at the head.
func (p *Pump) drain(ctx, hard context.Context, lease *leaseKeeper) error {
	start := time.Now()
	prog := p.startProgress() // "draining" lines until the end line
	// abort stops everything when a trim is refused or the lease is lost.
	abort, cancelAbort := context.WithCancelCause(hard)
	defer cancelAbort(nil)
	go func() {
		select {
		case <-lease.lost:
			cancelAbort(storage.ErrLeaseLost)
		case <-abort.Done():
		}
	}()

	window := p.cfg.ReadAhead
	slots := make(chan struct{}, window) // a slot per batch in flight: bounds memory
	raw := make(chan [][]byte, 1)        // read, not yet decoded
	trimQ := make(chan *batch, window)   // decoded, in read order
	workers := make([]chan *batch, len(p.outputs))
	var wg sync.WaitGroup
	for i, out := range p.outputs {
		workers[i] = make(chan *batch, window)
		// workers goroutines per pump take its batches as they come (the
		// trimmer trims in read order whatever order they finish in).
		for range out.Config.Writers() {
			wg.Add(1)
			go func(out *Output, in <-chan *batch) {
				defer wg.Done()
				pol := deliverPolicy{budget: out.Config.MaxRetryTime.D(), parkWhenDown: true}
				for b := range in {
					s := out.newShare(b)
					out.Stats.Filtered.Add(int64(len(b.records) - len(s.recs)))
					p.deliver(abort, out, s, pol)
					b.finish(out, s)
				}
			}(out, workers[i])
		}
	}

	var mu sync.Mutex // orders reads against trims: offsets count from the head
	var readPos, trimmed int64

	// Reader: LRANGE the next batch while earlier ones are decoded and
	// written. It stops at an empty read, at the stop signal or on abort.
	go func() {
		defer close(raw)
		sz := newSizer(p.cfg.BatchSize, p.cfg.BatchMaxBytes) // bounds each slot in bytes too
		for attempt := 0; ; {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			case <-abort.Done():
				return
			}
			held := holdSlots(ctx, abort, slots, sz.room(window))
			if ctx.Err() != nil || abort.Err() != nil {
				<-slots
				releaseSlots(slots, held)
				return
			}
			mu.Lock()
			elems, err := p.queue.Peek(abort, p.queue.Key(), readPos-trimmed, sz.next())
			if err == nil {
				elems = sz.cut(elems)
				readPos += int64(len(elems))
			}
			mu.Unlock()
			releaseSlots(slots, held)
			p.health.Beat()
			if err != nil {
				<-slots
				if abort.Err() != nil {
					return
				}
				p.redisError(err)
				if !sleep(ctx, backoff(attempt)) {
					return
				}
				attempt++
				continue
			}
			attempt = 0
			p.redisReadOK()
			if len(elems) == 0 {
				<-slots
				return
			}
			p.inFlight.Add(1)
			raw <- elems
		}
	}()

	// Decoder: decode and fan out, so the next read overlaps this work.
	go func() {
		defer func() {
			close(trimQ)
			for _, w := range workers {
				close(w)
			}
		}()
		for elems := range raw {
			b := p.decode(elems)
			if p.shareJSON {
				p.shareEncoding(b)
			}
			p.read.Add(int64(len(elems)))
			p.metrics.batchSize.Observe(float64(len(elems)))
			b.pending = len(p.outputs)
			trimQ <- b
			for _, w := range workers {
				w <- b
			}
		}
	}()

	// Trimmer: in read order, remove each batch once every pump is done.
	var st drainStats
	var trimErr error
	for b := range trimQ {
		if trimErr == nil {
			trimErr = p.trimWhenDone(abort, b, &mu, &trimmed)
			if trimErr != nil {
				cancelAbort(trimErr)
			} else {
				if !b.abandoned {
					p.recycle(b) // every pump is done with it
				}
				p.inFlight.Add(-1)
				st.batches++
				st.records += len(b.raws)
				st.dead += len(b.dead)
				for _, r := range b.parked {
					st.parked += len(r)
				}
			}
		}
		if trimErr != nil {
			p.inFlight.Add(-1)
			p.untrimmed.Add(int64(len(b.raws)))
		}
		<-slots
	}
	wg.Wait()
	prog.Stop()
	if trimErr == nil {
		p.lastDrain.Store(time.Now().UnixNano())
		p.progressed() // the list was found empty
	}
	// Why the drain was aborted (a lost lease, a refused trim) says more
	// than the unfinished batches it left behind.
	if cause := context.Cause(abort); cause != nil && !errors.Is(cause, context.Canceled) {
		trimErr = cause
	}
	if st.records > 0 || trimErr != nil {
		p.logDrain(start, st, trimErr)
	}
	return trimErr
}

// trimWhenDone waits for every pump to finish b and for a sync of each
// Syncer that wrote it (one sync covers the batches written while the last
// ran), then removes it from the head with its dead letters and parked
// records, retrying Redis errors until the shutdown deadline.
func (p *Pump) trimWhenDone(abort context.Context, b *batch, mu *sync.Mutex, trimmed *int64) error {
	select {
	case <-b.done:
	case <-abort.Done():
		// Pumps still writing see abort too; wait for them to give up.
		<-b.done
	}
	if b.incomplete {
		return errIncomplete
	}
	if err := p.commit(abort, b.commits); err != nil {
		return err
	}
	t := storage.Trim{Seq: p.queue.NextSeq(), List: p.queue.Key(), Batch: b.fp, DeadLetters: b.dead, Parked: b.parked, MaxLen: p.cfg.DeadLetterMaxLen}
	for attempt := 0; ; attempt++ {
		mu.Lock()
		err := p.queue.Apply(abort, t)
		if err == nil {
			*trimmed += b.fp.N
		}
		mu.Unlock()
		p.health.Beat()
		switch {
		case err == nil:
			p.redisOK()
			p.progressed()
			return nil
		case errors.Is(err, storage.ErrLeaseLost), errors.Is(err, storage.ErrHeadChanged):
			return err
		case abort.Err() != nil:
			return errIncomplete
		}
		p.redisError(err)
		if !sleep(abort, backoff(attempt)) {
			return errIncomplete
		}
	}
}

func (p *Pump) logDrain(start time.Time, st drainStats, err error) {
	fields := []zap.Field{
		zap.Int("records", st.records), zap.Int("batches", st.batches),
		zap.Int("dead_lettered", st.dead), zap.Int("parked", st.parked),
		zap.Duration("took", time.Since(start).Round(time.Millisecond)),
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if n, lerr := p.queue.Len(ctx, p.queue.Key()); lerr == nil {
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

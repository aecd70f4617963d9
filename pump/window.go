package pump

import (
	"context"
	"sync"

	"github.com/pumpd/pump/storage"
)

// window is the part of the list one drain has read and not trimmed yet:
// its batches in flight, oldest at the head of the list. Reads and trims
// both address the list from its head, which moves as batches are
// trimmed, so
//
//	the next unread element is read-trimmed elements after the head
//
// holds as long as every trim removes exactly the oldest batch still in
// the window, which the trimmer guarantees (it trims in read order) and
// the trim script checks (the batch's fingerprint must be at the head).
// The lock makes computing the offset and reading at it one step against a
// trim, so no read uses an offset from before a trim that has run since.
type window struct {
	mu      sync.Mutex
	read    int64 // elements this drain has read
	trimmed int64 // of those, elements trimmed from the head
}

// readNext runs read at the offset of the next unread element; read
// returns how many elements it took, and the window moves past them.
func (w *window) readNext(read func(offset int64) (taken int, err error)) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := read(w.read - w.trimmed)
	w.read += int64(n)
	return err
}

// trimOldest runs trim, which removes the window's oldest batch (n
// elements) from the head, and counts them once it succeeded.
func (w *window) trimOldest(n int64, trim func() error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := trim()
	if err == nil {
		w.trimmed += n
	}
	return err
}

// listFeed is where a drain's batches come from and go back to: the
// analytics list, read through the window, trimmed under the lease.
type listFeed struct {
	p *Loop
	w window
}

// next reads the next batch, sz bounding it in records and bytes; an empty
// one means the list holds nothing more.
func (f *listFeed) next(ctx context.Context, sz *sizer) (chunk, error) {
	var elems [][]byte
	err := f.w.readNext(func(offset int64) (int, error) {
		var err error
		elems, err = f.p.peek(ctx, f.p.queue.Key(), offset, sz, sz.next())
		return len(elems), err
	})
	return chunk{raws: elems}, err
}

// settle trims b, the window's oldest batch, with its dead letters and
// parked records in the same step: one attempt, which the trimmer retries
// with the same sequence number, so a retry whose first reply was lost is
// not applied twice.
func (f *listFeed) settle(ctx context.Context, b *batch) error {
	if b.seq == 0 {
		b.seq = f.p.queue.NextSeq()
	}
	t := storage.Trim{Seq: b.seq, List: f.p.queue.Key(), Batch: b.fp, DeadLetters: b.dead, Parked: b.parked, MaxLen: f.p.cfg.DeadLetterMaxLen}
	return f.w.trimOldest(b.fp.N, func() error { return f.p.queue.Apply(ctx, t) })
}

// drainList drains the list under lease.
func (p *Loop) drainList(ctx, hard context.Context, lease *leaseKeeper) error {
	return p.drain(ctx, hard, &listFeed{p: p}, lease.lost)
}

// peek reads up to n elements of list at offset, cut to sz's byte budget:
// the one way the drain, the parked replay and the dead-letter replay read.
func (p *Loop) peek(ctx context.Context, list string, offset int64, sz *sizer, n int64) ([][]byte, error) {
	elems, err := p.queue.Peek(ctx, list, offset, n)
	if err != nil {
		return nil, err
	}
	return sz.cut(elems), nil
}

package pump

import (
	"sync"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/filter"
	"github.com/pumpd/pump/storage"
)

// batch is one read of the head, shared read-only by the pumps; each pump
// works on its own view of it.
type batch struct {
	raws [][]byte // dropped once every pump is done with them (see written)
	n    int      // len(raws), for the counts once raws are dropped
	fp   storage.Fingerprint
	seq  uint64 // the trim's sequence number, once the trimmer gave it one
	// ids are a stream's entry ids: of each raw, then of the entries
	// dead-lettered when read (see chunk); nil for a list.
	ids     []string
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
	held    int64 // bytes of the read-ahead window it took when read
	// released is what b gave back of the window once written (its slot
	// and the bytes it no longer holds); the trim gives back the rest.
	released  int64
	slotFreed bool
}

// keptBytes is what b still holds of its elements once its records are
// gone: its dead letters and the records parked with it.
func (b *batch) keptBytes() int64 {
	var n int64
	for _, e := range b.dead {
		n += int64(len(e))
	}
	for _, recs := range b.parked {
		for _, e := range recs {
			n += int64(len(e))
		}
	}
	return n
}

// finish records one pump's share of b and reports whether it was the
// last: that caller closes done.
func (b *batch) finish(out *Output, s *share) (last bool) {
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
	return b.pending == 0
}

// chunk is one read of a feed: the records' bytes and, for a stream, their
// entry ids and the dead letters of entries that never became records (no
// data field, delivered too often), settled with the batch.
type chunk struct {
	raws [][]byte
	ids  []string // ids of raws, then of the entries of dead; nil for a list
	dead [][]byte
	held int64 // bytes of the read-ahead window it holds (set by the reader)
}

// size is the bytes of c's elements, what it holds of the window's budget.
func (c chunk) size() int64 {
	var n int64
	for _, e := range c.raws {
		n += int64(len(e))
	}
	for _, e := range c.dead {
		n += int64(len(e))
	}
	return n
}

func (c chunk) empty() bool { return len(c.raws) == 0 && len(c.dead) == 0 }

// decodeChunk decodes c into a batch.
func (p *Loop) decodeChunk(c chunk) *batch {
	b := p.decodeEntries(c.raws, c.ids)
	b.dead = append(b.dead, c.dead...)
	b.held = c.held
	return b
}

// decode decodes the elements of a list into a batch; one that is not an
// iam record is dead-lettered with its bytes.
func (p *Loop) decode(raws [][]byte) *batch { return p.decodeEntries(raws, nil) }

// decodeEntries is decode with the entry id of each raw (a stream's), kept
// in the dead letters; ids may be longer than raws (see chunk).
func (p *Loop) decodeEntries(raws [][]byte, ids []string) *batch {
	b := &batch{raws: raws, n: len(raws), ids: ids, fp: storage.FingerprintOf(raws), records: p.spareRecs.get(len(raws)),
		rawIdx: p.spareInts.get(len(raws)), done: make(chan struct{})}
	for i, raw := range raws {
		rec, err := analytics.DecodeShared(raw)
		if err != nil {
			p.decodeFailed.Add(1)
			d := DeadLetter{Reason: err.Error(), Raw: raw}
			if ids != nil {
				d.ID = ids[i]
			}
			b.dead = append(b.dead, p.letter(d))
			continue
		}
		b.records = append(b.records, rec)
		b.rawIdx = append(b.rawIdx, i)
	}
	return b
}

// shareEncoding encodes b's records once for all the JSON pumps, in a spare
// buffer when there is one.
func (p *Loop) shareEncoding(b *batch) {
	var buf []byte
	select {
	case buf = <-p.jsonBufs:
	default:
	}
	b.json = encodeJSON(b.records, buf)
}

// recycle keeps b's JSON buffer for a later batch. Call it only when no
// pump holds b's records any more.
func (p *Loop) recycle(b *batch) {
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

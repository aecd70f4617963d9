package pump

import (
	"sync"
	"sync/atomic"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/filter"
	"github.com/pumpd/pump/pumps"
)

// Output is one configured pump, pumps.<name> of the file: its sink (a
// pumps.Sink, the interface every sink type implements), its settings,
// and the loop's state and counts for it.
type Output struct {
	Name   string
	Sink   pumps.Sink
	Config config.Pump

	usernames, skip map[string]struct{}
	match           *filter.Matcher // filters.expr; nil keeps every record
	omit            bool
	// parking is set after this pump's share of a batch was parked: later
	// batches get one attempt instead of the whole retry budget, so an
	// outage does not slow the other pumps, until a write succeeds again.
	parking atomic.Bool
	// NeedsInit is set when the sink's Init failed at start (its server
	// was down): every write tries Init first, and until it succeeds the
	// pump's records are retried and parked like any failed write.
	NeedsInit atomic.Bool
	Stats     Stats

	// busy has a slot per write of this sink that may run at once (its
	// workers): the drain's workers and the parked replay share them, and a
	// write abandoned at its timeout keeps its slot until the sink returns.
	busy     chan struct{}
	busyOnce sync.Once
	// initMu lets one of several writes that find NeedsInit run the Init.
	initMu sync.Mutex
	// reportedDown is set once "parked records not replayed yet" was
	// logged, so it is logged once per outage, not every tick.
	reportedDown atomic.Bool
	commit       commitState // see commit.go
	// spareRecs and spareInts are the slices of this pump's finished
	// shares, for its next ones (see spares).
	spareRecs spares[analytics.Record]
	spareInts spares[int]
}

// State says what the loop does with this pump now: "failing" while its
// sink never started (every write tries Init first), "parking" while its
// writes fail and its records are parked, else "writing".
func (out *Output) State() string {
	switch {
	case out.NeedsInit.Load():
		return "failing"
	case out.parking.Load():
		return "parking"
	}
	return "writing"
}

// Stats counts records per pump since start.
type Stats struct {
	Written, Filtered, Parked, Dead, Replayed atomic.Int64
}

func set(list []string) map[string]struct{} {
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]struct{}, len(list))
	for _, s := range list {
		m[s] = struct{}{}
	}
	return m
}

// view is one pump's own copy of a batch: filtered, with details omitted
// where configured, and where each record came from in the batch.
func (out *Output) view(b *batch) ([]analytics.Record, []int) {
	recs := out.spareRecs.get(len(b.records))
	idx := out.spareInts.get(len(b.records))
	for i := range b.records {
		r := b.records[i]
		if out.usernames != nil {
			if _, keep := out.usernames[r.Username]; !keep {
				continue
			}
		}
		if _, drop := out.skip[r.Username]; drop {
			continue
		}
		if !out.match.Keep(b.records, i, &b.requests) {
			continue
		}
		if out.omit {
			r.OmitDetails()
		}
		recs = append(recs, r)
		idx = append(idx, i)
	}
	return recs, idx
}

// newShare takes out's view of b.
func (out *Output) newShare(b *batch) *share {
	recs, idx := out.view(b)
	raws := make([][]byte, len(idx))
	src := out.spareInts.get(len(idx))[:len(idx)]
	for j, i := range idx {
		src[j] = b.rawIdx[i]
		raws[j] = b.raws[src[j]]
	}
	out.spareInts.put(idx)
	return &share{recs: recs, raws: raws, src: src}
}

// recycle keeps s's slices for the pump's next share, unless a write
// abandoned at its timeout may still read them. Its raws stay: they are
// its parked records when it parked.
func (out *Output) recycle(s *share) {
	if s.abandoned {
		return
	}
	out.spareRecs.put(s.recs)
	out.spareInts.put(s.src)
	s.recs, s.src = nil, nil
}
